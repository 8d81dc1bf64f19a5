//! A convolutional autoencoder for 2-D fields: strided convolutions and dense layers encode,
//! dense layers and transposed convolutions decode. Shapes follow from the field size, so any
//! height and width train (Baler's conv model has its input size wired in).

use super::{values, DenseStack, FakeQuant, LayerQuant, ModelSpec};
use crate::onnx_export::{ExportLayer, ExportNetwork};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// Feature-map sizes [channels, height, width] after each encoder convolution, input first.
pub fn feature_maps(spec: &ModelSpec) -> Vec<[usize; 3]> {
    let (k, s, p) = (spec.kernel, spec.stride, spec.kernel / 2);
    let mut maps = vec![[1, spec.sample_shape[0], spec.sample_shape[1]]];
    for &channels in &spec.channels {
        let [_, h, w] = *maps.last().expect("starts with the input");
        let out = |n: usize| (n + 2 * p).saturating_sub(k) / s + 1;
        maps.push([channels, out(h), out(w)]);
    }
    maps
}

#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    convs: Vec<Conv2d>,
    encoder_dense: DenseStack,
    decoder_dense: DenseStack,
    deconvs: Vec<ConvTranspose2d>,
    #[module(skip)]
    maps: Vec<[usize; 3]>,
    #[module(skip)]
    activation: super::Activation,
    /// Quantization-aware training: the input's type and one entry per (transposed)
    /// convolution; none when training in float.
    #[module(skip)]
    input_quant: Option<FakeQuant>,
    #[module(skip)]
    conv_quant: Vec<LayerQuant>,
    #[module(skip)]
    deconv_quant: Vec<LayerQuant>,
}

impl ConvAutoencoder {
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let maps = feature_maps(spec);
        let (k, s, p) = (spec.kernel, spec.stride, spec.kernel / 2);
        let convs = maps
            .windows(2)
            .map(|m| {
                Conv2dConfig::new([m[0][0], m[1][0]], [k, k])
                    .with_stride([s, s])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device)
            })
            .collect();
        // Each transposed convolution restores exactly the size its convolution reduced.
        let deconvs = maps
            .windows(2)
            .rev()
            .map(|m| {
                let ([c_in, h_in, w_in], [c_out, h_out, w_out]) = (m[1], m[0]);
                let restored = |n: usize| (n - 1) * s + k - 2 * p;
                ConvTranspose2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([s, s])
                    .with_padding([p, p])
                    .with_padding_out([h_out - restored(h_in), w_out - restored(w_in)])
                    .init(device)
            })
            .collect();
        let flat: usize = maps.last().expect("at least the input").iter().product();
        let widths: Vec<usize> =
            std::iter::once(flat).chain(spec.hidden.iter().copied()).chain([spec.latent]).collect();
        let mirrored: Vec<usize> = widths.iter().rev().copied().collect();
        ConvAutoencoder {
            convs,
            encoder_dense: DenseStack::new(&widths, spec, spec.dropout, false, device),
            decoder_dense: DenseStack::new(&mirrored, spec, 0.0, true, device),
            deconvs,
            maps,
            activation: spec.activation,
            input_quant: None,
            conv_quant: vec![],
            deconv_quant: vec![],
        }
    }

    /// The model trained for fixed point: the input and every layer's tensors rounded to their
    /// types (`layers` in the model's order: convolutions, dense layers, transposed
    /// convolutions; the decoder stays in float unless `decoder` is set).
    pub fn fake_quantized(self, input: FakeQuant, mut layers: Vec<LayerQuant>, decoder: bool) -> Self {
        let mut take = |n: usize| layers.drain(..n).collect::<Vec<_>>();
        let conv_quant = take(self.convs.len());
        let encoder_quant = take(self.encoder_dense.depth());
        let (mut decoder_quant, mut deconv_quant) = (take(self.decoder_dense.depth()), take(self.deconvs.len()));
        if !decoder {
            (decoder_quant, deconv_quant) = (vec![], vec![]);
        }
        ConvAutoencoder {
            encoder_dense: self.encoder_dense.fake_quantized(None, encoder_quant),
            decoder_dense: self.decoder_dense.fake_quantized(None, decoder_quant),
            input_quant: Some(input),
            conv_quant,
            deconv_quant,
            ..self
        }
    }

    pub fn encode(&self, mut x: Tensor<2>) -> Tensor<2> {
        if let Some(input) = &self.input_quant {
            x = input.apply(x);
        }
        let [batch, _] = x.dims();
        let [_, h, w] = self.maps[0];
        let mut x: Tensor<4> = x.reshape([batch, 1, h, w]);
        for (i, conv) in self.convs.iter().enumerate() {
            x = match self.conv_quant.get(i) {
                None => self.activation.forward(conv.forward(x)),
                Some(quant) => {
                    let p = conv.kernel_size[0] / 2;
                    let options = ConvOptions::new(conv.stride, [p, p], conv.dilation, conv.groups);
                    let weight = quant.weight.apply(conv.weight.val());
                    let bias = conv.bias.as_ref().map(|b| quant.bias.apply(b.val()));
                    quant.output(conv2d(x, weight, bias, options), Some(self.activation))
                }
            };
        }
        self.encoder_dense.forward(x.flatten(1, 3))
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [batch, _] = z.dims();
        let [c, h, w] = *self.maps.last().expect("at least the input");
        let mut x: Tensor<4> = self.decoder_dense.forward(z).reshape([batch, c, h, w]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            let activation = (i != last).then_some(self.activation);
            x = match self.deconv_quant.get(i) {
                None => {
                    let x = deconv.forward(x);
                    match activation {
                        Some(a) => a.forward(x),
                        None => x,
                    }
                }
                Some(quant) => {
                    let options = ConvTransposeOptions::new(
                        deconv.stride,
                        deconv.padding,
                        deconv.padding_out,
                        deconv.dilation,
                        deconv.groups,
                    );
                    let weight = quant.weight.apply(deconv.weight.val());
                    let bias = deconv.bias.as_ref().map(|b| quant.bias.apply(b.val()));
                    quant.output(conv_transpose2d(x, weight, bias, options), activation)
                }
            };
        }
        x.flatten(1, 3)
    }

    pub fn export(&self, spec: &ModelSpec) -> (ExportNetwork, ExportNetwork) {
        let mut encoder = vec![];
        for (i, conv) in self.convs.iter().enumerate() {
            encoder.push(export_conv(conv, self.conv_quant.get(i)));
            encoder.push(self.activation.export());
        }
        encoder.push(ExportLayer::Flatten);
        encoder.extend(self.encoder_dense.export());

        let mut decoder = self.decoder_dense.export();
        decoder.push(ExportLayer::Unflatten { shape: self.maps.last().expect("at least the input").to_vec() });
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            decoder.push(export_deconv(deconv, self.deconv_quant.get(i)));
            if i != last {
                decoder.push(self.activation.export());
            }
        }
        let input_shape = self.maps[0].to_vec();
        (
            ExportNetwork { name: "encoder".into(), input_shape, layers: encoder },
            ExportNetwork { name: "decoder".into(), input_shape: vec![spec.latent], layers: decoder },
        )
    }
}

/// A layer's weight and bias as exported: rounded to their types under QAT, so the compiler's
/// cast of them is exact.
fn parameters<const D: usize>(
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
    quant: Option<&LayerQuant>,
) -> (Tensor<D>, Option<Tensor<1>>) {
    match quant {
        None => (weight, bias),
        Some(q) => (q.weight.round(weight), bias.map(|b| q.bias.round(b))),
    }
}

fn export_conv(conv: &Conv2d, quant: Option<&LayerQuant>) -> ExportLayer {
    let weight_shape = conv.weight.dims().to_vec();
    let p = conv.kernel_size[0] / 2;
    let (weight, bias) = parameters(conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), quant);
    ExportLayer::Conv {
        bias: bias_or_zero(bias, weight_shape[0]),
        weight: values(weight),
        weight_shape,
        stride: conv.stride.to_vec(),
        padding: vec![p, p],
    }
}

fn export_deconv(deconv: &ConvTranspose2d, quant: Option<&LayerQuant>) -> ExportLayer {
    let weight_shape = deconv.weight.dims().to_vec();
    let (weight, bias) = parameters(deconv.weight.val(), deconv.bias.as_ref().map(|b| b.val()), quant);
    ExportLayer::ConvTranspose {
        bias: bias_or_zero(bias, weight_shape[1]),
        weight: values(weight),
        weight_shape,
        stride: deconv.stride.to_vec(),
        padding: deconv.padding.to_vec(),
        output_padding: deconv.padding_out.to_vec(),
    }
}

fn bias_or_zero(bias: Option<Tensor<1>>, channels: usize) -> Vec<f32> {
    bias.map(values).unwrap_or_else(|| vec![0.0; channels])
}

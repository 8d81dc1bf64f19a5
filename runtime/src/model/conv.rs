//! A convolutional autoencoder for 2-D fields [height, width] and for stacks of frames
//! [frames, height, width]: strided convolutions and dense layers encode, dense layers and
//! transposed convolutions decode. Shapes follow from the sample size, so any height, width
//! and frame count train (Baler's conv model has its input size wired in).

use super::conv_geometry::{encoder_layers, extents, FeatureMap};
use super::conv_layers::ConvLayer;
use super::{DenseStack, FakeQuant, LayerQuant, ModelSpec};
use crate::onnx_export::{ExportLayer, ExportNetwork};
use burn::prelude::*;

#[derive(Module, Debug)]
pub struct ConvAutoencoder<C: ConvLayer> {
    convs: Vec<C>,
    encoder_dense: DenseStack,
    decoder_dense: DenseStack,
    deconvs: Vec<C::Transposed>,
    #[module(skip)]
    maps: Vec<FeatureMap>,
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

impl<C: ConvLayer> ConvAutoencoder<C> {
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let (geometries, maps) = encoder_layers(spec);
        let convs =
            geometries.iter().zip(maps.windows(2)).map(|(g, m)| C::new([m[0][0], m[1][0]], g, device)).collect();
        // Each transposed convolution restores exactly the size its convolution reduced.
        let deconvs = geometries
            .iter()
            .zip(maps.windows(2))
            .rev()
            .map(|(g, m)| {
                let output_padding = g.output_padding(extents(&m[1]), extents(&m[0]));
                C::new_transposed([m[1][0], m[0][0]], g, output_padding, device)
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
        let [_, frames, height, width] = self.maps[0];
        let mut x: Tensor<5> = x.reshape([batch, 1, frames, height, width]);
        for (i, conv) in self.convs.iter().enumerate() {
            let quant = self.conv_quant.get(i);
            x = activated(conv.forward(x, quant), quant, Some(self.activation));
        }
        self.encoder_dense.forward(x.flatten(1, 4))
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [batch, _] = z.dims();
        let [channels, frames, height, width] = *self.maps.last().expect("at least the input");
        let mut x: Tensor<5> = self.decoder_dense.forward(z).reshape([batch, channels, frames, height, width]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            let quant = self.deconv_quant.get(i);
            let activation = (i != last).then_some(self.activation);
            x = activated(C::forward_transposed(deconv, x, quant), quant, activation);
        }
        x.flatten(1, 4)
    }

    pub fn export(&self, spec: &ModelSpec) -> (ExportNetwork, ExportNetwork) {
        let mut encoder = vec![];
        for (i, conv) in self.convs.iter().enumerate() {
            encoder.push(conv.export(self.conv_quant.get(i)));
            encoder.push(self.activation.export());
        }
        encoder.push(ExportLayer::Flatten);
        encoder.extend(self.encoder_dense.export());

        let mut decoder = self.decoder_dense.export();
        decoder.push(ExportLayer::Unflatten { shape: self.onnx_shape(self.maps.last().expect("at least the input")) });
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            decoder.push(C::export_transposed(deconv, self.deconv_quant.get(i)));
            if i != last {
                decoder.push(self.activation.export());
            }
        }
        let input_shape = self.onnx_shape(&self.maps[0]);
        (
            ExportNetwork { name: "encoder".into(), input_shape, layers: encoder },
            ExportNetwork { name: "decoder".into(), input_shape: vec![spec.latent], layers: decoder },
        )
    }

    /// A feature map as the ONNX graph holds it: [channels, height, width] for 2-D layers.
    fn onnx_shape(&self, map: &FeatureMap) -> Vec<usize> {
        std::iter::once(map[0]).chain(map[4 - C::AXES..].iter().copied()).collect()
    }
}

/// A layer's output after its activation: in float, or rounded to its types under QAT.
fn activated(sum: Tensor<5>, quant: Option<&LayerQuant>, activation: Option<super::Activation>) -> Tensor<5> {
    match (quant, activation) {
        (Some(quant), _) => quant.output(sum, activation),
        (None, Some(activation)) => activation.forward(sum),
        (None, None) => sum,
    }
}

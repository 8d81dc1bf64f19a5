//! Fully connected autoencoders: Baler's n-200-100-50-z (and its BatchNorm/dropout variant),
//! the FPGA prototype n-20-10-z, or any widths the configuration names.

use super::{values, Activation, FakeQuant, LayerQuant, ModelSpec};
use crate::onnx_export::{ExportLayer, ExportNetwork};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::linear;

/// Dense layers with an activation (and optional BatchNorm, dropout) after each hidden one.
#[derive(Module, Debug)]
pub struct DenseStack {
    linears: Vec<Linear>,
    norms: Vec<BatchNorm>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    /// Whether the last layer is activated too (when more layers follow, as in a conv decoder).
    #[module(skip)]
    activate_last: bool,
    /// Quantization-aware training: the type of the stack's input, if it is rounded here.
    #[module(skip)]
    input_quant: Option<FakeQuant>,
    /// Quantization-aware training: one entry per linear layer (none when training in float).
    #[module(skip)]
    layer_quant: Vec<LayerQuant>,
}

impl DenseStack {
    /// `widths` runs from the input width to the output width.
    pub fn new(widths: &[usize], spec: &ModelSpec, dropout: f64, activate_last: bool, device: &Device) -> Self {
        let linears = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        let activated = if activate_last { &widths[1..] } else { &widths[1..widths.len() - 1] };
        let norms = match spec.batch_norm {
            true => activated.iter().map(|&n| BatchNormConfig::new(n).init(device)).collect(),
            false => vec![],
        };
        DenseStack {
            linears,
            norms,
            dropout: DropoutConfig::new(dropout).init(),
            activation: spec.activation,
            activate_last,
            input_quant: None,
            layer_quant: vec![],
        }
    }

    /// The same stack with its input (if given) and every layer rounded to fixed-point types;
    /// `layers` holds one entry per linear layer, or none to stay in float.
    pub fn fake_quantized(self, input: Option<FakeQuant>, layers: Vec<LayerQuant>) -> Self {
        assert!(layers.is_empty() || layers.len() == self.linears.len(), "one set of types per linear layer");
        DenseStack { input_quant: input, layer_quant: layers, ..self }
    }

    /// How many linear layers the stack has.
    pub fn depth(&self) -> usize {
        self.linears.len()
    }

    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        if let Some(input) = &self.input_quant {
            x = input.apply(x);
        }
        for (i, layer) in self.linears.iter().enumerate() {
            let activation = self.is_activated(i).then_some(self.activation);
            x = match self.layer_quant.get(i) {
                None => {
                    x = layer.forward(x);
                    if let Some(norm) = self.norms.get(i).filter(|_| activation.is_some()) {
                        x = norm.forward(x);
                    }
                    match activation {
                        Some(a) => a.forward(x),
                        None => x,
                    }
                }
                Some(quant) => {
                    let weight = quant.weight.apply(layer.weight.val());
                    let bias = layer.bias.as_ref().map(|b| quant.bias.apply(b.val()));
                    quant.output(linear(x, weight, bias), activation)
                }
            };
            if activation.is_some() {
                x = self.dropout.forward(x);
            }
        }
        x
    }

    fn is_activated(&self, layer: usize) -> bool {
        self.activate_last || layer + 1 < self.linears.len()
    }

    pub fn export(&self) -> Vec<ExportLayer> {
        let mut layers = vec![];
        for (i, linear) in self.linears.iter().enumerate() {
            layers.push(export_linear(linear, self.layer_quant.get(i)));
            if self.is_activated(i) {
                if let Some(norm) = self.norms.get(i) {
                    layers.push(export_batch_norm(norm));
                }
                layers.push(self.activation.export());
            }
        }
        layers
    }
}

/// burn stores y = x W with W as [inputs, outputs]; ONNX Gemm (as PyTorch) wants [outputs, inputs].
/// Under QAT the rounded weights are written, so the compiler's cast of them is exact.
fn export_linear(linear: &Linear, quant: Option<&LayerQuant>) -> ExportLayer {
    let [inputs, outputs] = linear.weight.dims();
    let (mut weight, mut bias) = (linear.weight.val(), linear.bias.as_ref().map(|b| b.val()));
    if let Some(quant) = quant {
        weight = quant.weight.round(weight);
        bias = bias.map(|b| quant.bias.round(b));
    }
    let weight = values(weight.transpose());
    let bias = bias.map(values).unwrap_or_else(|| vec![0.0; outputs]);
    ExportLayer::Dense { inputs, outputs, weight, bias }
}

fn export_batch_norm(norm: &BatchNorm) -> ExportLayer {
    ExportLayer::BatchNorm {
        gamma: values(norm.gamma.val()),
        beta: values(norm.beta.val()),
        mean: values(norm.running_mean.value()),
        variance: values(norm.running_var.value()),
        epsilon: norm.epsilon as f32,
    }
}

#[derive(Module, Debug)]
pub struct DenseAutoencoder {
    pub encoder: DenseStack,
    pub decoder: DenseStack,
}

impl DenseAutoencoder {
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let widths: Vec<usize> =
            std::iter::once(spec.features()).chain(spec.hidden.iter().copied()).chain([spec.latent]).collect();
        let mirrored: Vec<usize> = widths.iter().rev().copied().collect();
        DenseAutoencoder {
            encoder: DenseStack::new(&widths, spec, spec.dropout, false, device),
            decoder: DenseStack::new(&mirrored, spec, 0.0, false, device),
        }
    }

    /// The model trained for fixed point: the input and every layer's tensors rounded to
    /// their types (`layers`: the encoder's linear layers, then the decoder's; the decoder
    /// stays in float unless `decoder` is set).
    pub fn fake_quantized(self, input: FakeQuant, mut layers: Vec<LayerQuant>, decoder: bool) -> Self {
        let mut decoder_layers = layers.split_off(self.encoder.depth());
        if !decoder {
            decoder_layers.clear();
        }
        DenseAutoencoder {
            encoder: self.encoder.fake_quantized(Some(input), layers),
            decoder: self.decoder.fake_quantized(None, decoder_layers),
        }
    }

    pub fn export(&self, spec: &ModelSpec) -> (ExportNetwork, ExportNetwork) {
        let encoder = ExportNetwork {
            name: "encoder".into(),
            input_shape: spec.sample_shape.clone(),
            layers: self.encoder.export(),
        };
        let decoder =
            ExportNetwork { name: "decoder".into(), input_shape: vec![spec.latent], layers: self.decoder.export() };
        (encoder, decoder)
    }
}

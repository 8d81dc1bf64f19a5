//! Fully connected autoencoders: Baler's n-200-100-50-z (and its BatchNorm/dropout variant),
//! the FPGA prototype n-20-10-z, or any widths the configuration names.

use super::{values, Activation, ModelSpec};
use crate::onnx_export::{ExportLayer, ExportNetwork};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;

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
        }
    }

    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for (i, linear) in self.linears.iter().enumerate() {
            x = linear.forward(x);
            if self.is_activated(i) {
                if let Some(norm) = self.norms.get(i) {
                    x = norm.forward(x);
                }
                x = self.dropout.forward(self.activation.forward(x));
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
            layers.push(export_linear(linear));
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
fn export_linear(linear: &Linear) -> ExportLayer {
    let [inputs, outputs] = linear.weight.dims();
    let weight = values(linear.weight.val().transpose());
    let bias = linear.bias.as_ref().map(|b| values(b.val())).unwrap_or_else(|| vec![0.0; outputs]);
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

//! The autoencoders balerc trains. Every shape comes from the data and the configuration:
//! a [`ModelSpec`] is the resolved description, saved with the weights so a model can be rebuilt.

mod activation;
mod conv;
mod conv_geometry;
mod conv_layers;
mod dense;
mod fake_quant;
pub use balerc_codec::weight_grid;

pub use activation::Activation;
pub use conv::ConvAutoencoder;
pub use dense::{DenseAutoencoder, DenseStack};
pub use fake_quant::{FakeQuant, LayerQuant, TableQuant};

use crate::config::{ModelConfig, ModelKind, WeightFormat};
use crate::onnx_export::ExportNetwork;
use crate::qat::QatPrecision;
use burn::nn::conv::{Conv2d, Conv3d};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything needed to rebuild a model's layers, resolved against the data it was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    /// One sample's shape: [columns] for tables, [height, width] for fields, [frames, height,
    /// width] for stacks of frames.
    pub sample_shape: Vec<usize>,
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub activation: Activation,
    pub batch_norm: bool,
    pub dropout: f64,
    pub channels: Vec<usize>,
    pub kernel: usize,
    pub stride: usize,
    /// Quantization-aware training: the fixed-point types the forward pass rounds to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qat: Option<QatPrecision>,
    /// Under QAT, whether the decoder is rounded too (else only the encoder, for a float decoder).
    #[serde(default)]
    pub qat_decoder: bool,
    /// Whether the weights were rounded to half precision after training (models saved before
    /// this was recorded were not).
    #[serde(default)]
    pub weights: WeightFormat,
}

impl ModelSpec {
    /// Fixes the latent size and input shape of `config` for samples of `sample_shape` whose
    /// values were stored with `input_bits` bits each.
    pub fn resolve(config: &ModelConfig, sample_shape: &[usize], input_bits: u32) -> Result<ModelSpec, String> {
        let features: usize = sample_shape.iter().product();
        let latent = match config.latent {
            0 => latent_for_ratio(features, input_bits, config.compression_ratio, config.latent_bits),
            n => n,
        };
        if latent >= features {
            return Err(format!("a latent size of {latent} does not compress {features} values per sample"));
        }
        match (config.kind, sample_shape.len()) {
            (ModelKind::Dense, 1) | (ModelKind::Conv2d, 2) | (ModelKind::Conv3d, 3) => {}
            (ModelKind::Dense, dims) => {
                let hint = if dims == 3 { "\"conv3d\"" } else { "\"conv2d\"" };
                return Err(format!(
                    "model.kind = \"dense\" needs a table, the data's samples have shape {sample_shape:?} (try {hint})"
                ));
            }
            (ModelKind::Conv2d, dims) => {
                let hint = if dims == 3 { " (try \"conv3d\")" } else { "" };
                return Err(format!(
                    "model.kind = \"conv2d\" needs 2-D samples, the data's samples have shape {sample_shape:?}{hint}"
                ));
            }
            (ModelKind::Conv3d, dims) => {
                let hint = match dims {
                    2 => " (try \"conv2d\", or data.frames_per_sample to stack frames)",
                    _ => " (a series of 2-D frames stacks with data.frames_per_sample)",
                };
                return Err(format!(
                    "model.kind = \"conv3d\" needs stacks of frames [frames, height, width], the data's samples \
                     have shape {sample_shape:?}{hint}"
                ));
            }
        }
        Ok(ModelSpec {
            kind: config.kind,
            sample_shape: sample_shape.to_vec(),
            hidden: config.hidden_widths(),
            latent,
            activation: Activation::from_config(config.activation, config.negative_slope),
            batch_norm: config.batch_norm,
            dropout: config.dropout,
            channels: config.conv_channels(),
            kernel: config.kernel,
            stride: config.stride,
            qat: None,
            qat_decoder: false,
            weights: config.weights,
        })
    }

    pub fn features(&self) -> usize {
        self.sample_shape.iter().product()
    }
}

/// The largest latent size whose stored bytes still give at least `ratio`.
fn latent_for_ratio(features: usize, input_bits: u32, ratio: f64, latent_bits: u32) -> usize {
    let input_bits = (features as f64) * f64::from(input_bits);
    ((input_bits / (ratio * f64::from(latent_bits))).floor() as usize).max(1)
}

/// A trained or fresh autoencoder. Inputs and outputs are flat: [batch, features].
#[derive(Module, Debug)]
pub enum Autoencoder {
    Dense(DenseAutoencoder),
    Conv2d(ConvAutoencoder<Conv2d>),
    Conv3d(ConvAutoencoder<Conv3d>),
}

impl Autoencoder {
    /// A fresh model; its spec's QAT precision must have been checked with [`Autoencoder::try_new`].
    pub fn new(spec: &ModelSpec, device: &Device) -> Autoencoder {
        Autoencoder::try_new(spec, device).expect("the QAT precision was checked when the spec was made")
    }

    /// A fresh model, or why its spec's QAT precision does not fit it.
    pub fn try_new(spec: &ModelSpec, device: &Device) -> Result<Autoencoder, String> {
        let model = match spec.kind {
            ModelKind::Dense => Autoencoder::Dense(DenseAutoencoder::new(spec, device)),
            ModelKind::Conv2d => Autoencoder::Conv2d(ConvAutoencoder::new(spec, device)),
            ModelKind::Conv3d => Autoencoder::Conv3d(ConvAutoencoder::new(spec, device)),
        };
        let Some(precision) = &spec.qat else { return Ok(model) };
        // Layer names, and with them per-layer types, come from the whole model's export.
        let (encoder, decoder) = model.export(spec);
        let layers = precision.layers(&join(encoder, decoder))?;
        Ok(match model {
            Autoencoder::Dense(m) => Autoencoder::Dense(m.fake_quantized(precision.input(), layers, spec.qat_decoder)),
            Autoencoder::Conv2d(m) => {
                Autoencoder::Conv2d(m.fake_quantized(precision.input(), layers, spec.qat_decoder))
            }
            Autoencoder::Conv3d(m) => {
                Autoencoder::Conv3d(m.fake_quantized(precision.input(), layers, spec.qat_decoder))
            }
        })
    }

    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Autoencoder::Dense(m) => m.encoder.forward(x),
            Autoencoder::Conv2d(m) => m.encode(x),
            Autoencoder::Conv3d(m) => m.encode(x),
        }
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            Autoencoder::Dense(m) => m.decoder.forward(z),
            Autoencoder::Conv2d(m) => m.decode(z),
            Autoencoder::Conv3d(m) => m.decode(z),
        }
    }

    /// The model with every float parameter rounded to the grid of `format` (kept in f32,
    /// which holds it exactly): the nearest half-precision value, or per tensor the nearest of
    /// 255 multiples of a power of two.
    pub fn with_weights_rounded(self, format: WeightFormat) -> Autoencoder {
        match format {
            WeightFormat::F32 => self,
            WeightFormat::F16 => {
                self.map(&mut Rounding(|w: &[f32]| w.iter().copied().map(weight_grid::half_precision).collect()))
            }
            WeightFormat::Int8 => self.map(&mut Rounding(weight_grid::to_int8_grid)),
        }
    }

    /// The encoder and the decoder as plain layer lists, for the ONNX writer.
    pub fn export(&self, spec: &ModelSpec) -> (ExportNetwork, ExportNetwork) {
        match self {
            Autoencoder::Dense(m) => m.export(spec),
            Autoencoder::Conv2d(m) => m.export(spec),
            Autoencoder::Conv3d(m) => m.export(spec),
        }
    }
}

/// Rounds every weight tensor. Rounded weights of a model in training require gradients as the
/// originals did: gradients taken at them pass straight through to the float weights.
struct Rounding<F: Fn(&[f32]) -> Vec<f32>>(F);

impl<F: Fn(&[f32]) -> Vec<f32>> burn::module::ModuleMapper for Rounding<F> {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        param.map(|tensor| {
            let (shape, device, tracked) = (tensor.shape(), tensor.device(), tensor.is_require_grad());
            let rounded = Tensor::from_data(TensorData::new((self.0)(&values(tensor)), shape), &device);
            if tracked {
                rounded.require_grad()
            } else {
                rounded
            }
        })
    }
}

/// Both halves run one after the other, as one network.
pub fn join(encoder: ExportNetwork, decoder: ExportNetwork) -> ExportNetwork {
    let mut layers = encoder.layers;
    layers.extend(decoder.layers);
    ExportNetwork { name: "autoencoder".into(), input_shape: encoder.input_shape, layers }
}

/// A float tensor's values, for export.
pub(crate) fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latent_size_follows_the_stored_bytes() {
        // 24 float32 columns at ratio 1.6 with float32 latents: 24 / 1.6 = 15.
        assert_eq!(latent_for_ratio(24, 32, 1.6, 32), 15);
        // The same ratio with 16-bit latents allows twice as many.
        assert_eq!(latent_for_ratio(24, 32, 1.6, 16), 30);
        assert_eq!(latent_for_ratio(2500, 64, 200.0, 32), 25);
    }

    #[test]
    fn a_latent_as_wide_as_the_input_is_refused() {
        let config = ModelConfig { latent: 24, ..ModelConfig::default() };
        let err = ModelSpec::resolve(&config, &[24], 32).unwrap_err();
        assert!(err.contains("does not compress"), "{err}");
        let err = ModelSpec::resolve(&ModelConfig::default(), &[50, 50], 32).unwrap_err();
        assert!(err.contains("conv2d"), "{err}");
    }
}

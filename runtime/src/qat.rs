//! Quantization-aware training: the precision a model is trained for, read from
//! `training.qat`, and the fixed-point types it gives each layer of the model.
//!
//! The precision is the compiler's own [`PrecisionConfig`] (`balerc lower --config` reads the
//! same TOML), so training rounds every tensor to the type the compiled hardware gives it.
//! Per-layer tables name layers as the whole model's ONNX export does (`autoencoder.onnx`:
//! `dense_0`, ..., the decoder's layers counting on after the encoder's).

use crate::model::{FakeQuant, LayerQuant, TableQuant};
use crate::onnx_export::{node_name, ExportLayer, ExportNetwork};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::PrecisionConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A precision to train for, kept as the TOML text it was given in (saved as `precision.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct QatPrecision {
    text: String,
    config: PrecisionConfig,
}

impl QatPrecision {
    /// Reads a precision TOML file's contents; the error names `source`.
    pub fn from_toml(text: &str, source: &str) -> Result<QatPrecision, String> {
        let config = toml::from_str(text).map_err(|e| format!("{source}: {}", e.message().trim()))?;
        Ok(QatPrecision { text: text.to_string(), config })
    }

    /// Every tensor of one type.
    pub fn uniform(ty: FixedType) -> QatPrecision {
        QatPrecision { text: format!("default = \"{ty}\"\n"), config: PrecisionConfig::uniform(ty) }
    }

    /// `training.qat`: empty (off), a type such as `ap_fixed<16,6>`, or a precision TOML file
    /// (relative paths are taken from `base`).
    pub fn from_setting(setting: &str, base: &Path) -> Result<Option<QatPrecision>, String> {
        let setting = setting.trim();
        if setting.is_empty() {
            return Ok(None);
        }
        let path = base.join(setting);
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return QatPrecision::from_toml(&text, &format!("training.qat file {}", path.display())).map(Some);
        }
        match setting.parse::<FixedType>() {
            Ok(ty) => Ok(Some(QatPrecision::uniform(ty))),
            Err(e) if setting.contains('<') => {
                Err(format!("training.qat = '{setting}' is not a fixed-point type: {e}"))
            }
            Err(_) => Err(format!(
                "training.qat = '{setting}' is neither a fixed-point type such as 'ap_fixed<16,6>' nor a precision file"
            )),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn config(&self) -> &PrecisionConfig {
        &self.config
    }

    /// The type of the model's input.
    pub fn input(&self) -> FakeQuant {
        FakeQuant::new(self.config.input_type())
    }

    /// The types of every linear layer of `network` (the whole model), in order. Fails on a
    /// layer the precision cannot be trained for, or a per-layer table naming no layer.
    pub fn layers(&self, network: &ExportNetwork) -> Result<Vec<LayerQuant>, String> {
        let config = &self.config;
        let mut layers = vec![];
        // The names the compiler sees: fused ReLU and LeakyReLU nodes are gone.
        let mut known = vec![];
        for (index, layer) in network.layers.iter().enumerate() {
            let name = node_name(index, layer);
            let next = network.layers.get(index + 1);
            match layer {
                linear if is_linear(linear) => {
                    let choices = config.layer(&name);
                    let table = match next {
                        Some(table @ (ExportLayer::Sigmoid | ExportLayer::Tanh)) => {
                            let table_name = node_name(index + 1, table);
                            let choices = config.layer(&table_name);
                            let size = choices.table_size.unwrap_or(config.table_size);
                            if !size.is_power_of_two() || !(2..=1 << 20).contains(&size) {
                                return Err(format!(
                                    "training.qat: table size {size} of layer '{table_name}' is not a power of two between 2 and 2^20"
                                ));
                            }
                            Some(TableQuant { size, result: FakeQuant::new(choices.result.unwrap_or(config.default)) })
                        }
                        _ => None,
                    };
                    layers.push(LayerQuant {
                        weight: FakeQuant::new(choices.weight.unwrap_or(config.default)),
                        bias: FakeQuant::new(choices.bias.unwrap_or(config.default)),
                        result: FakeQuant::new(choices.result.unwrap_or(config.default)),
                        table,
                    });
                    known.push(name);
                }
                ExportLayer::BatchNorm { .. } => {
                    return Err("training.qat cannot be combined with model.batch_norm = true: the compiler folds \
                                BatchNorm into the layer before it, so the weights trained here would not be the \
                                hardware's; train without model.batch_norm"
                        .into())
                }
                ExportLayer::Relu | ExportLayer::LeakyRelu { .. }
                    if index > 0 && is_linear(&network.layers[index - 1]) => {}
                _ => known.push(name),
            }
        }
        if let Some(unknown) = config.layers.keys().find(|k| !known.contains(k)) {
            return Err(format!(
                "training.qat names layer '{unknown}', which the model does not have (layers: {})",
                known.join(", ")
            ));
        }
        Ok(layers)
    }
}

fn is_linear(layer: &ExportLayer) -> bool {
    matches!(layer, ExportLayer::Dense { .. } | ExportLayer::Conv { .. } | ExportLayer::ConvTranspose { .. })
}

impl Serialize for QatPrecision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

impl<'de> Deserialize<'de> for QatPrecision {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        QatPrecision::from_toml(&text, "the QAT precision").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(inputs: usize, outputs: usize) -> ExportLayer {
        ExportLayer::Dense { inputs, outputs, weight: vec![0.0; inputs * outputs], bias: vec![0.0; outputs] }
    }

    fn network(layers: Vec<ExportLayer>) -> ExportNetwork {
        ExportNetwork { name: "autoencoder".into(), input_shape: vec![4], layers }
    }

    #[test]
    fn settings_are_types_or_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(QatPrecision::from_setting("", dir.path()).unwrap(), None);
        let uniform = QatPrecision::from_setting("ap_fixed<8,3>", dir.path()).unwrap().unwrap();
        assert_eq!(uniform.text(), "default = \"ap_fixed<8,3>\"\n");
        std::fs::write(dir.path().join("p.toml"), "default = \"ap_fixed<12,4>\"\ninput = \"ap_ufixed<8,1>\"\n")
            .unwrap();
        let file = QatPrecision::from_setting("p.toml", dir.path()).unwrap().unwrap();
        assert_eq!(file.config().input_type().to_string(), "ap_ufixed<8,1>");
        let err = QatPrecision::from_setting("ap_fixed<99,3>", dir.path()).unwrap_err();
        assert!(err.contains("training.qat") && err.contains("99"), "{err}");
        let err = QatPrecision::from_setting("sixteen bits", dir.path()).unwrap_err();
        assert!(err.contains("neither a fixed-point type"), "{err}");
        std::fs::write(dir.path().join("bad.toml"), "default = 3\n").unwrap();
        let err = QatPrecision::from_setting("bad.toml", dir.path()).unwrap_err();
        assert!(err.contains("bad.toml"), "{err}");
    }

    #[test]
    fn per_layer_choices_follow_the_export_names() {
        let text = "default = \"ap_fixed<16,6>\"\n[layers.dense_2]\nweight = \"ap_fixed<8,2>\"\n[layers.tanh_3]\nresult = \"ap_fixed<8,1>\"\ntable_size = 256\n";
        let precision = QatPrecision::from_toml(text, "p.toml").unwrap();
        let layers =
            precision.layers(&network(vec![dense(4, 3), ExportLayer::Relu, dense(3, 2), ExportLayer::Tanh])).unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].weight, FakeQuant::new("ap_fixed<16,6>".parse().unwrap()));
        assert_eq!(layers[1].weight, FakeQuant::new("ap_fixed<8,2>".parse().unwrap()));
        let table = layers[1].table.as_ref().unwrap();
        assert_eq!((table.size, &table.result), (256, &FakeQuant::new("ap_fixed<8,1>".parse().unwrap())));

        let fused = QatPrecision::from_toml("default = \"ap_fixed<16,6>\"\n[layers.relu_1]\n", "p.toml").unwrap();
        let err = fused.layers(&network(vec![dense(4, 3), ExportLayer::Relu, dense(3, 2)])).unwrap_err();
        assert!(err.contains("'relu_1'") && err.contains("dense_0, dense_2"), "{err}");
    }

    #[test]
    fn batch_norm_is_refused_by_name() {
        let norm = ExportLayer::BatchNorm {
            gamma: vec![1.0; 3],
            beta: vec![0.0; 3],
            mean: vec![0.0; 3],
            variance: vec![1.0; 3],
            epsilon: 1e-5,
        };
        let err = QatPrecision::uniform("ap_fixed<16,6>".parse().unwrap())
            .layers(&network(vec![dense(4, 3), norm, ExportLayer::Relu, dense(3, 2)]))
            .unwrap_err();
        assert!(err.contains("model.batch_norm"), "{err}");
    }
}

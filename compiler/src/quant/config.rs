//! Precision configuration: one default type, overridable per model and per layer (by
//! the node's original ONNX name) and per tensor role, read from TOML:
//!
//! ```toml
//! default = "ap_fixed<16,6>"
//! input = "ap_fixed<16,6>"      # the model input
//! accumulator = "exact"         # or a type, as hls4ml's accum_t
//! table_size = 1024             # sigmoid/tanh table entries (a power of two)
//!
//! [layers."/encoder/encoder.0/Gemm"]
//! weight = "ap_fixed<8,2>"
//! bias = "ap_fixed<12,4>"
//! result = "ap_fixed<16,6>"
//! accumulator = "ap_fixed<32,12>"
//! reuse_factor = 4              # Verilog: clocks this layer shares its products over
//! ```

use crate::fixed::FixedType;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How a linear layer sums its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accumulator {
    /// Wide enough that no sum can overflow, from interval analysis on the weights.
    #[default]
    Exact,
    /// Every product and the bias are cast to this type and summed in it.
    Type(FixedType),
}

impl<'de> Deserialize<'de> for Accumulator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Accumulator {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.trim() == "exact" {
            Ok(Accumulator::Exact)
        } else {
            s.parse().map(Accumulator::Type).map_err(|e| e.to_string())
        }
    }
}

impl std::fmt::Display for Accumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Accumulator::Exact => write!(f, "exact"),
            Accumulator::Type(t) => write!(f, "{t}"),
        }
    }
}

/// Choices for one layer; anything left out falls back to the model-wide value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerPrecision {
    pub weight: Option<FixedType>,
    pub bias: Option<FixedType>,
    pub result: Option<FixedType>,
    pub accumulator: Option<Accumulator>,
    pub table_size: Option<usize>,
    /// Hardware, not arithmetic: over how many clocks the Verilog backend shares this
    /// layer's products (the quantized model does not depend on it).
    pub reuse_factor: Option<u32>,
}

/// Who chose a configuration. Its types apply only to tensors the model leaves in floating
/// point; the model's own quantizers fix the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A precision TOML file.
    #[default]
    File,
    /// One type for every tensor (`--precision`).
    Given,
    /// Nothing was given: the built-in default. A linear layer whose result a quantized model
    /// leaves float then keeps its exact sum.
    BuiltIn,
}

impl Origin {
    /// How the precision table names it.
    pub fn label(self) -> &'static str {
        match self {
            Origin::File => "config",
            Origin::Given => "--precision",
            Origin::BuiltIn => "default",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecisionConfig {
    pub default: FixedType,
    pub input: Option<FixedType>,
    #[serde(default)]
    pub accumulator: Accumulator,
    #[serde(default = "default_table_size")]
    pub table_size: usize,
    #[serde(default)]
    pub layers: BTreeMap<String, LayerPrecision>,
    #[serde(skip)]
    pub origin: Origin,
}

fn default_table_size() -> usize {
    1024
}

impl PrecisionConfig {
    pub fn uniform(default: FixedType) -> Self {
        PrecisionConfig {
            default,
            input: None,
            accumulator: Accumulator::Exact,
            table_size: default_table_size(),
            layers: BTreeMap::new(),
            origin: Origin::Given,
        }
    }

    /// The built-in default, used when no precision is given.
    pub fn built_in(default: FixedType) -> Self {
        PrecisionConfig { origin: Origin::BuiltIn, ..Self::uniform(default) }
    }

    pub fn from_toml(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|e| Error::Precision(format!("{}: {}", path.display(), e.message())))
    }

    pub fn layer(&self, name: &str) -> LayerPrecision {
        self.layers.get(name).cloned().unwrap_or_default()
    }

    pub fn input_type(&self) -> FixedType {
        self.input.unwrap_or(self.default)
    }

    /// The reuse factors the file sets, by layer.
    pub fn reuse_factors(&self) -> BTreeMap<String, u32> {
        self.layers.iter().filter_map(|(name, layer)| Some((name.clone(), layer.reuse_factor?))).collect()
    }

    /// Every layer named in the file must exist: a typo would silently change nothing.
    pub fn check_layer_names<'a>(&self, names: impl Iterator<Item = &'a str>) -> Result<()> {
        let known: Vec<&str> = names.collect();
        for name in self.layers.keys() {
            if !known.contains(&name.as_str()) {
                return Err(Error::Precision(format!(
                    "the configuration names layer '{name}', which the model does not have (layers: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_per_layer_choices() {
        let config: PrecisionConfig = toml::from_str(
            r#"
            default = "ap_fixed<16,6>"
            accumulator = "ap_fixed<32,12>"
            [layers."/0/Gemm"]
            weight = "ap_fixed<8,2,AP_RND,AP_SAT>"
            accumulator = "exact"
            "#,
        )
        .unwrap();
        assert_eq!(config.layer("/0/Gemm").weight.unwrap().to_string(), "ap_fixed<8,2,AP_RND,AP_SAT>");
        assert_eq!(config.layer("/0/Gemm").accumulator, Some(Accumulator::Exact));
        assert_eq!(config.accumulator.to_string(), "ap_fixed<32,12>");
        assert_eq!(config.table_size, 1024);
        assert!(config.reuse_factors().is_empty());
    }

    #[test]
    fn reads_reuse_factors_by_layer() {
        let config: PrecisionConfig = toml::from_str(
            r#"
            default = "ap_fixed<16,6>"
            [layers."/0/Gemm"]
            reuse_factor = 4
            [layers."/1/Gemm"]
            weight = "ap_fixed<8,2>"
            "#,
        )
        .unwrap();
        assert_eq!(config.reuse_factors().into_iter().collect::<Vec<_>>(), vec![("/0/Gemm".to_string(), 4)]);
        assert!(
            toml::from_str::<PrecisionConfig>("default = \"ap_fixed<16,6>\"\n[layers.a]\nreuse_factor = -1").is_err()
        );
    }

    #[test]
    fn rejects_unknown_fields_and_bad_types() {
        assert!(toml::from_str::<PrecisionConfig>("default = \"ap_fixed<16,6>\"\nweights = 3").is_err());
        let err = toml::from_str::<PrecisionConfig>("default = \"ap_fixed<99,6>\"").unwrap_err().to_string();
        assert!(err.contains("width 99"), "{err}");
    }
}

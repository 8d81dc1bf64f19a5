//! Quantization: precision configuration, types chosen per tensor, exact accumulators.

pub mod auto;
pub mod config;
mod join;
mod lower;
pub mod model;
pub mod range;
pub mod report;

pub use config::{Accumulator, LayerPrecision, Origin, PrecisionConfig};
pub use lower::{alpha_type, effective_precision, model_declares_types, quantize, SIGMOID_RANGE_LOG2, TANH_RANGE_LOG2};
pub use model::QuantizedModel;
pub use report::{precision_report, PrecisionReport};

//! balerc's compiler: ONNX models in, a quantized dataflow IR out, and the bit-exact
//! simulator that defines what the generated hardware computes.

pub mod error;
pub mod fixed;
pub mod frontend;
pub mod ir;
pub mod lower;
pub mod passes;
pub mod quant;
pub mod sim;
pub mod stream;

pub use error::{Error, Result};
pub use lower::{load_and_optimize, lower, LowerOptions, Lowered};

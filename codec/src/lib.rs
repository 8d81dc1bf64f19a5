//! balerc's codec: data through a trained autoencoder into a `.baler` file and back, with an
//! error bound held on every value. It runs the model's ONNX exports with the compiler's float
//! and fixed-point programs, so it needs no training backend.

pub mod compress;
pub mod container;
pub mod density;
mod error;
/// Entry points that take arbitrary bytes, for the fuzz targets under fuzz/ and the corpus replay test.
pub mod fuzzing;
pub mod in_memory;
pub mod model_files;
pub mod normalize;
pub mod weight_grid;
pub mod wire;

pub use error::{CodecError, Interrupted};

//! balerc's runtime: the user's data in and out, the autoencoders and their training, and the
//! trained model directory that the compiler and the compression workflow read.

pub mod array;
pub use balerc_codec::{compress, container, density, normalize};
pub use balerc_io::{atomic, dataset, frame_stacks, message, numbers};
pub mod config;
pub mod device;
pub mod evaluate;
pub mod lowering;
pub mod model;
pub mod model_dir;
pub mod onnx_export;
pub mod plot;
pub mod project;
pub mod qat;
pub mod train;
pub mod training_run;

//! balerc's runtime: the user's data in and out, the autoencoders and their training, and the
//! trained model directory that the compiler and the compression workflow read.

pub mod array;
pub mod atomic;
pub mod compress;
pub mod config;
pub mod container;
pub mod dataset;
pub mod density;
pub mod device;
pub mod evaluate;
pub mod frame_stacks;
pub mod model;
pub mod model_dir;
pub mod normalize;
pub mod onnx_export;
pub mod plot;
pub mod project;
pub mod qat;
pub mod train;
pub mod training_run;

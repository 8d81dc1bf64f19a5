//! balerc's datasets in and out: `.npy`, `.npz` and `.csv` read and written a chunk of samples
//! at a time, outputs written to a temporary file and renamed into place when complete.

pub mod atomic;
pub mod dataset;
pub mod frame_stacks;
pub mod interrupt;
pub mod message;
pub mod numbers;

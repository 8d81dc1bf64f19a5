//! balerc's datasets in and out: `.npy`, `.npz`, `.csv`, Parquet, HDF5 and ROOT read and
//! written a chunk of samples at a time, outputs written to a temporary file and renamed into
//! place when complete. Each format is a module behind a source and a sink trait (see
//! `dataset/formats.rs`), so a new one is a module of its own and a line in each table there.

pub mod atomic;
pub mod dataset;
pub mod frame_stacks;
pub mod interrupt;
pub mod message;
pub mod numbers;

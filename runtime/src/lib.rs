//! balerc's runtime: data I/O now; training, compression and evaluation build on it.

pub mod array;
pub mod atomic;

//! xz2's modules, as liblzma provides them under the same names.

pub use liblzma::{bufread, read, stream, write};

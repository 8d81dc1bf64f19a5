//! Fixed-point types with the exact semantics of Xilinx `ap_fixed` / `ap_ufixed`.
//!
//! A value of type `ap_[u]fixed<W, I, Q, O, N>` is stored as a `W`-bit code `c`
//! (two's complement when signed) and stands for `c * 2^-(W - I)`. Everything
//! here works on codes with integer arithmetic only, so the simulator built on
//! it agrees with the generated hardware bit for bit.
//!
//! The reference is the `ap_types` headers shipped with hls4ml (the ones the
//! oracle test compiles); see `cast.rs` for the conversion rules and the header
//! quirks they reproduce.

mod cast;
mod error;
mod float;
mod modes;
mod spelling;
mod types;

pub use cast::Caster;
pub use error::FixedTypeError;
pub use modes::{Overflow, Quantization};
pub use types::{FixedType, MAX_FRAC_BITS, MAX_WIDTH};

//! Simulators: the floating-point reference, and the bit-exact fixed-point simulator
//! that defines what the hardware computes.

pub mod fixed;
pub mod float;

pub use fixed::Simulator;
pub use float::{run_float, with_wide_registers, FloatProgram};

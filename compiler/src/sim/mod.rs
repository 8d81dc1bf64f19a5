//! Simulators: the floating-point reference, and the bit-exact fixed-point simulator
//! that defines what the hardware computes.

pub mod float;

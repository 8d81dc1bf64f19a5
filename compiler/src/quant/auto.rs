//! Automatic precision from calibration data: integer bits are chosen so that no value
//! seen on the data overflows, keeping each tensor's total width.

use super::config::PrecisionConfig;
use crate::fixed::FixedType;
use crate::ir::{Graph, Op};
use crate::sim::FloatProgram;
use crate::Result;

/// The integer bits (sign included) a signed type needs to hold every |value| <= max.
pub fn integer_bits_for(max_abs: f64) -> i32 {
    if max_abs <= 0.0 {
        1
    } else {
        max_abs.log2().floor() as i32 + 2
    }
}

fn with_range(ty: FixedType, max_abs: f64) -> FixedType {
    FixedType { int_bits: integer_bits_for(max_abs), ..ty }
}

/// Fills in every type the configuration leaves open from the ranges seen on
/// `samples` (one after another) and the weights themselves.
pub fn calibrate(graph: &Graph, base: &PrecisionConfig, samples: &[f64]) -> Result<PrecisionConfig> {
    let program = FloatProgram::new(graph)?;
    let order = graph.topological_order();
    let mut max_abs = vec![0.0f64; order.len()];
    for sample in samples.chunks_exact(program.input_len()) {
        for (m, values) in max_abs.iter_mut().zip(program.trace(sample)) {
            *m = values.iter().fold(*m, |m, v| m.max(v.abs()));
        }
    }
    let mut config = base.clone();
    let input_position = order.iter().position(|&n| matches!(graph.node(n).op, Op::Input { .. })).expect("one input");
    config.input.get_or_insert(with_range(base.input_type(), max_abs[input_position]));
    for (position, &id) in order.iter().enumerate() {
        let node = graph.node(id);
        let (weights, biases) = match &node.op {
            Op::Dense(d) => (d.weight.max_abs(), d.bias.iter().fold(0.0f64, |m, b| m.max(b.abs()))),
            Op::Conv(c) => (c.weight.max_abs(), c.bias.iter().fold(0.0f64, |m, b| m.max(b.abs()))),
            Op::BatchNorm(b) => {
                (b.scale.iter().fold(0.0f64, |m, v| m.max(v.abs())), b.shift.iter().fold(0.0f64, |m, v| m.max(v.abs())))
            }
            Op::Activation(_) | Op::PRelu { .. } => (0.0, 0.0),
            _ => continue,
        };
        let given = base.layer(&node.name);
        let entry = config.layers.entry(node.name.clone()).or_default();
        let default = base.default;
        entry.result = Some(given.result.unwrap_or(with_range(default, max_abs[position])));
        if !matches!(node.op, Op::Activation(_) | Op::PRelu { .. }) {
            entry.weight = Some(given.weight.unwrap_or(with_range(default, weights)));
            entry.bias = Some(given.bias.unwrap_or(with_range(default, biases)));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bits_hold_the_maximum() {
        for (max, bits) in [(0.0, 1), (0.3, 0), (0.9, 1), (1.0, 2), (1.5, 2), (2.0, 3), (100.0, 8)] {
            assert_eq!(integer_bits_for(max), bits, "{max}");
            let ty = FixedType::new(16, bits, true).unwrap();
            let top = ty.to_f64(ty.max_code());
            assert!(top >= max * (1.0 - 1e-3) && -ty.to_f64(ty.min_code()) >= max, "{max}: {ty}");
        }
    }
}

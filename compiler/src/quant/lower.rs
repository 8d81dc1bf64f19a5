//! Assigns fixed-point types to a shaped IR graph and turns every constant into codes.

use super::config::{Accumulator, LayerPrecision, Origin, PrecisionConfig};
use super::model::*;
use super::range::Interval;
use crate::fixed::FixedType;
use crate::ir::{Activation, Graph, NodeId, Op};
use crate::{Error, Result};
use std::collections::HashMap;

/// Sigmoid saturates by |x| = 8 and tanh by |x| = 4 at the precisions used here, as in
/// hls4ml's tables: a table covers `[-2^range_log2, 2^range_log2)`.
pub const SIGMOID_RANGE_LOG2: u32 = 3;
pub const TANH_RANGE_LOG2: u32 = 2;
/// The table range of Elu, Selu and Softplus: below -8 they are within e^-8 of their limit.
pub const UNBOUNDED_RANGE_LOG2: u32 = 3;
/// LeakyReLU slopes are held with this many fractional bits.
const ALPHA_FRAC_BITS: i32 = 17;

pub fn quantize(graph: &Graph, config: &PrecisionConfig) -> Result<QuantizedModel> {
    config.check_layer_names(graph.nodes.node_weights().map(|n| n.name.as_str()))?;
    let (inputs, outputs) = (graph.inputs(), graph.outputs());
    if inputs.len() != 1 || outputs.len() != 1 {
        return Err(Error::Other(format!(
            "hardware needs one input and one output; the model has {} and {}",
            inputs.len(),
            outputs.len()
        )));
    }
    let mut model = QuantizedModel {
        name: graph.name.clone(),
        values: Vec::new(),
        layers: Vec::new(),
        input: 0,
        output: 0,
        source: None,
        scales: graph.scales,
    };
    let keep_exact_sums = config.origin == Origin::BuiltIn && model_declares_types(graph);
    let mut value_of: HashMap<NodeId, usize> = HashMap::new();
    for id in graph.topological_order() {
        let node = graph.node(id);
        let operand_values: Vec<usize> = graph.operands(id).iter().map(|o| value_of[o]).collect();
        match &node.op {
            Op::Input { shape } => {
                let ty = node.declared.result.unwrap_or(config.input_type());
                model.values.push(Value { name: node.name.clone(), shape: shape.clone(), ty });
                model.input = model.values.len() - 1;
                value_of.insert(id, model.input);
            }
            Op::Output => {
                model.output = operand_values[0];
                value_of.insert(id, model.output);
            }
            _ => {
                let operands: Vec<Value> = operand_values.iter().map(|&v| model.values[v].clone()).collect();
                let (op, ty) = lower_node(graph, id, &operands, config, keep_exact_sums)?;
                model.values.push(Value { name: node.name.clone(), shape: node.shape.clone(), ty });
                let output = model.values.len() - 1;
                model.layers.push(Layer { name: node.name.clone(), op, inputs: operand_values, output });
                value_of.insert(id, output);
            }
        }
    }
    Ok(model)
}

/// Whether any tensor of the graph has a type its model declares (quantization nodes).
pub fn model_declares_types(graph: &Graph) -> bool {
    graph.nodes.node_weights().any(|n| !n.declared.is_empty())
}

/// A node's precision: the types its model declares, then the configuration's for the rest.
pub fn effective_precision(config: &PrecisionConfig, node: &crate::ir::Node) -> LayerPrecision {
    let mut layer = config.layer(&node.name);
    layer.weight = node.declared.weight.or(layer.weight);
    layer.bias = node.declared.bias.or(layer.bias);
    layer.result = node.declared.result.or(layer.result);
    layer
}

pub(super) fn precision_error(node: &str, message: impl std::fmt::Display) -> Error {
    Error::Precision(format!("layer '{node}': {message}"))
}

fn codes(values: &[f64], ty: FixedType, node: &str, role: &str) -> Result<Codes> {
    let codes = values
        .iter()
        .map(|&v| ty.from_f64(v).map_err(|e| precision_error(node, format!("{role}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Codes { ty, codes })
}

/// `keep_exact_sums`: a linear layer whose result the model leaves float, with no precision
/// given, keeps its exact sum (what the model computes) instead of the default type.
fn lower_node(
    graph: &Graph,
    id: NodeId,
    operands: &[Value],
    config: &PrecisionConfig,
    keep_exact_sums: bool,
) -> Result<(LayerOp, FixedType)> {
    let node = graph.node(id);
    let layer = effective_precision(config, node);
    let result = layer.result.unwrap_or(config.default);
    let Some(input) = operands.first() else {
        return Err(precision_error(
            &node.name,
            format!("a {} operand that no layer absorbs (only a constant added right after a dense or conv layer folds into its bias)", node.op.kind()),
        ));
    };
    if let Some(role) = off_grid_constant(node) {
        return Err(precision_error(
            &node.name,
            format!("its {role} are no longer on the grid of the type its quantizer declares (a folded BatchNorm or a Gemm alpha changed them)"),
        ));
    }
    let exact_result = |linear: &Linear| match layer.result {
        None if keep_exact_sums => linear.accumulator,
        _ => result,
    };
    let op = match &node.op {
        Op::Dense(d) => {
            let linear =
                linear(&node.name, &d.weight.data, &d.bias, d.activation, input.ty, &layer, config, |weights| {
                    (0..d.outputs()).map(|j| (0..d.inputs()).map(|i| weights[j * d.inputs() + i]).collect()).collect()
                })?;
            let result = exact_result(&linear);
            return Ok((LayerOp::Dense { linear, inputs: d.inputs() }, result));
        }
        Op::Conv(c) => {
            let taps = c.taps(&input.shape);
            let linear =
                linear(&node.name, &c.weight.data, &c.bias, c.activation, input.ty, &layer, config, |weights| {
                    (0..taps.outputs())
                        .map(|o| taps.of(o).iter().map(|&(_, w)| weights[w as usize]).collect())
                        .collect()
                })?;
            let result = exact_result(&linear);
            return Ok((
                LayerOp::Conv { linear, taps, transposed: c.transposed, geometry: Some(c.geometry.clone()) },
                result,
            ));
        }
        Op::Pool(pool) => {
            let Some((taps, weights)) =
                pool.border_average(&input.shape).map_err(|e| precision_error(&node.name, e))?
            else {
                return Err(precision_error(&node.name, "shape inference left a plain pool unresolved"));
            };
            let bias = vec![0.0; node.shape[0]];
            let linear = linear(&node.name, &weights, &bias, None, input.ty, &layer, config, |weights| {
                (0..taps.outputs()).map(|o| taps.of(o).iter().map(|&(_, w)| weights[w as usize]).collect()).collect()
            })?;
            // No geometry: the windows are not one kernel slid over the input.
            return Ok((LayerOp::Conv { linear, taps, transposed: false, geometry: None }, result));
        }
        Op::BatchNorm(b) => {
            let scale = codes(&b.scale, layer.weight.unwrap_or(config.default), &node.name, "scale")?;
            let shift = codes(&b.shift, layer.bias.unwrap_or(config.default), &node.name, "shift")?;
            affine(scale, shift, input.ty, &node.shape, &node.name)?
        }
        Op::Requantize(r) => {
            let Some(result) = node.declared.result else {
                return Err(precision_error(&node.name, "a requantization has no declared result type"));
            };
            let scale = multiplier_codes(r, node)?;
            let shift =
                Codes { ty: FixedType::new(1, 1, false).expect("a valid type"), codes: vec![0; scale.codes.len()] };
            let op = affine(scale, shift, input.ty, &node.shape, &node.name)?;
            return Ok((op, result));
        }
        Op::Activation(Activation::Relu) => LayerOp::Relu,
        Op::Activation(Activation::LeakyRelu { alpha }) => {
            let alpha_ty = alpha_type(*alpha);
            LayerOp::LeakyRelu { alpha: alpha_ty.from_f64(*alpha).expect("finite"), alpha_ty }
        }
        Op::Activation(Activation::Clip { min, max }) => clip(*min, *max, input.ty, &node.name)?,
        Op::PRelu { slopes } => {
            // One type holds every slope: the widest one's integer bits.
            let alpha_ty = alpha_type(slopes.iter().fold(0.0f64, |m, s| m.max(s.abs())));
            let codes = slopes.iter().map(|&s| alpha_ty.from_f64(s).expect("finite")).collect();
            LayerOp::PRelu { alphas: Codes { ty: alpha_ty, codes }, per_channel: node.shape[1..].iter().product() }
        }
        Op::MaxPool(g) => {
            let windows = g.windows(&input.shape);
            if (0..windows.outputs()).any(|o| windows.of(o).is_empty()) {
                return Err(precision_error(&node.name, "a max pool window covers padding only"));
            }
            LayerOp::MaxPool { windows, geometry: Some(g.clone()) }
        }
        Op::Activation(
            a @ (Activation::Sigmoid
            | Activation::Tanh
            | Activation::Elu { .. }
            | Activation::Selu { .. }
            | Activation::Softplus),
        ) => {
            let size = layer.table_size.unwrap_or(config.table_size);
            table(*a, size, input.ty, result, &node.name)?
        }
        Op::Reshape { .. } | Op::Flatten { .. } | Op::Identity | Op::Dropout => {
            return Ok((LayerOp::Reshape, input.ty))
        }
        Op::Add => {
            let sum = super::join::sum_type(operands[0].ty, operands[1].ty, &node.name)?;
            return Ok((LayerOp::Add { sum }, layer.result.unwrap_or(sum)));
        }
        Op::Concat { .. } => {
            let parts: Vec<FixedType> = operands.iter().map(|v| v.ty).collect();
            let common = super::join::common_type(&parts, &node.name)?;
            return Ok((LayerOp::Concat, layer.result.unwrap_or(common)));
        }
        other => {
            return Err(precision_error(&node.name, format!("a {} node cannot be quantized", other.kind())));
        }
    };
    Ok((op, result))
}

/// `y = cast_result(x * scale[c] + shift[c])` per channel, with an exact accumulator.
fn affine(scale: Codes, shift: Codes, input: FixedType, shape: &[usize], name: &str) -> Result<LayerOp> {
    let frac = (input.frac_bits() + scale.ty.frac_bits()).max(shift.ty.frac_bits());
    let range = Interval::of_type(input);
    let sums = scale.codes.iter().zip(&shift.codes).map(|(&s, &t)| {
        range
            .scale(s)
            .shift_frac(input.frac_bits() + scale.ty.frac_bits(), frac)
            .plus(Interval::point(t).shift_frac(shift.ty.frac_bits(), frac))
    });
    let accumulator = exact_type(sums.fold(Interval::point(0), Interval::hull), frac, name)?;
    let per_channel = shape[1..].iter().product();
    Ok(LayerOp::Affine { scale, shift, accumulator, per_channel })
}

/// A requantization's multipliers as codes of one unsigned type, one per channel (a single
/// multiplier repeated when the scales are per tensor).
fn multiplier_codes(r: &crate::ir::Requantize, node: &crate::ir::Node) -> Result<Codes> {
    let top = r.mantissas.iter().copied().max().unwrap_or(1).max(1);
    let width = 64 - top.leading_zeros();
    let ty = FixedType::new(width, width as i32 - r.shift, false).map_err(|e| precision_error(&node.name, e))?;
    let channels = node.shape.first().copied().unwrap_or(1);
    let codes = match r.mantissas[..] {
        [m] => vec![m; channels],
        _ => r.mantissas.clone(),
    };
    Ok(Codes { ty, codes })
}

/// The role of a constant whose values its declared type no longer holds exactly.
fn off_grid_constant(node: &crate::ir::Node) -> Option<&'static str> {
    let on_grid = |values: &[f64], ty: Option<FixedType>| {
        ty.is_none_or(|t| values.iter().all(|&v| t.from_f64(v).is_ok_and(|c| t.to_f64(c) == v)))
    };
    let (weights, biases) = match &node.op {
        Op::Dense(d) => (&d.weight.data, &d.bias),
        Op::Conv(c) => (&c.weight.data, &c.bias),
        _ => return None,
    };
    if !on_grid(weights, node.declared.weight) {
        Some("weights")
    } else if !on_grid(biases, node.declared.bias) {
        Some("biases")
    } else {
        None
    }
}

/// The type holding an alpha slope exactly enough: 1 sign/integer bit above the value.
pub fn alpha_type(alpha: f64) -> FixedType {
    let int_bits = (alpha.abs().max(1e-9).log2().floor() as i32 + 2).max(1);
    FixedType::new((ALPHA_FRAC_BITS + int_bits) as u32, int_bits, true).expect("a small valid type")
}

#[allow(clippy::too_many_arguments)] // the layer's weights and its precision context
fn linear(
    name: &str,
    weights: &[f64],
    biases: &[f64],
    activation: Option<Activation>,
    input: FixedType,
    layer: &super::config::LayerPrecision,
    config: &PrecisionConfig,
    // The weights feeding each output, for the interval analysis.
    per_output: impl Fn(&[i64]) -> Vec<Vec<i64>>,
) -> Result<Linear> {
    let weight = codes(weights, layer.weight.unwrap_or(config.default), name, "weight")?;
    let bias = codes(biases, layer.bias.unwrap_or(config.default), name, "bias")?;
    let activation = match activation {
        None => FusedActivation::None,
        Some(Activation::Relu) => FusedActivation::Relu,
        Some(Activation::LeakyRelu { alpha }) => {
            let ty = alpha_type(alpha);
            FusedActivation::LeakyRelu { alpha: ty.from_f64(alpha).expect("finite"), ty }
        }
        Some(other) => return Err(precision_error(name, format!("{other} cannot be fused"))),
    };
    let (accumulator, exact) = match layer.accumulator.unwrap_or(config.accumulator) {
        Accumulator::Type(t) => {
            if !matches!(t.overflow, crate::fixed::Overflow::Wrap) || t.saturation_bits != 0 {
                return Err(precision_error(
                    name,
                    format!("accumulator {t} saturates, which makes the result depend on the order of additions; use AP_WRAP"),
                ));
            }
            (t, false)
        }
        Accumulator::Exact => {
            let product_frac = input.frac_bits() + weight.ty.frac_bits();
            let frac = product_frac.max(bias.ty.frac_bits());
            let x = Interval::of_type(input);
            let rows = per_output(&weight.codes);
            let channels = bias.codes.len();
            let per_channel = rows.len() / channels.max(1);
            let hull = rows.iter().enumerate().fold(Interval::point(0), |hull, (o, row)| {
                let products = row.iter().fold(Interval::point(0), |sum, &w| sum.plus(x.scale(w)));
                let b = bias.codes[o / per_channel.max(1)];
                hull.hull(
                    products
                        .shift_frac(product_frac, frac)
                        .plus(Interval::point(b).shift_frac(bias.ty.frac_bits(), frac)),
                )
            });
            (exact_type(hull, frac, name)?, true)
        }
    };
    Ok(Linear { weight, bias, accumulator, exact, activation })
}

/// The narrowest signed type with `frac` fractional bits that holds every value of the
/// interval (given in codes with `frac` fractional bits).
pub(super) fn exact_type(range: Interval, frac: i32, name: &str) -> Result<FixedType> {
    let width = range.signed_bits();
    if width > 64 {
        return Err(precision_error(
            name,
            format!("an exact accumulator needs {width} bits, more than 64; choose narrower weights or inputs, or an explicit accumulator type"),
        ));
    }
    FixedType::new(width, width as i32 - frac, true).map_err(|e| precision_error(name, e))
}

/// Clip's bounds as codes of the input's type, rounded inward (so that every output lies
/// within them) and limited to the type's range: exact wherever the bounds lie on its grid,
/// as ReLU6's 0 and 6 do.
fn clip(min: f64, max: f64, input: FixedType, name: &str) -> Result<LayerOp> {
    let scale = f64::from(input.frac_bits()).exp2();
    let code = |scaled: f64| scaled.clamp(input.min_code() as f64, input.max_code() as f64) as i64;
    let (low, high) = (code((min * scale).ceil()), code((max * scale).floor()));
    if low > high {
        return Err(precision_error(
            name,
            format!("clip bounds [{min}, {max}] hold no value of its input type {input}; widen its fraction"),
        ));
    }
    Ok(LayerOp::Clip { low, high })
}

fn table(activation: Activation, size: usize, input: FixedType, result: FixedType, name: &str) -> Result<LayerOp> {
    if !size.is_power_of_two() || !(2..=1 << 20).contains(&size) {
        return Err(precision_error(name, format!("table size {size} is not a power of two between 2 and 2^20")));
    }
    // Every table function is named here: a new activation must choose its own table.
    // Elu and Selu are lines above 0; Softplus is close to one (within e^-8) from 8 on.
    let (function, range_log2, line) = match activation {
        Activation::Sigmoid => (TableFunction::Sigmoid, SIGMOID_RANGE_LOG2, None),
        Activation::Tanh => (TableFunction::Tanh, TANH_RANGE_LOG2, None),
        Activation::Elu { .. } => (TableFunction::Elu, UNBOUNDED_RANGE_LOG2, Some((0.0, 1.0))),
        Activation::Selu { gamma, .. } => (TableFunction::Selu, UNBOUNDED_RANGE_LOG2, Some((0.0, gamma))),
        Activation::Softplus => {
            (TableFunction::Softplus, UNBOUNDED_RANGE_LOG2, Some(((UNBOUNDED_RANGE_LOG2 as f64).exp2(), 1.0)))
        }
        Activation::Relu | Activation::LeakyRelu { .. } | Activation::Clip { .. } => {
            return Err(precision_error(name, format!("{activation} is computed, not looked up in a table")))
        }
    };
    let linear = line.and_then(|(from, slope): (f64, f64)| {
        // The first input code at or above `from`; none when the input never reaches it.
        let code = (from * f64::from(input.frac_bits()).exp2()).ceil();
        let slope_ty = alpha_type(slope);
        (code <= input.max_code() as f64).then(|| LinearSide {
            from: code as i64,
            slope: slope_ty.from_f64(slope).expect("finite"),
            slope_ty,
        })
    });
    let size_log2 = size.trailing_zeros() as i32;
    // index = floor(x * N / 2R) + N/2 with x = code * 2^-frac.
    let index_shift = size_log2 - input.frac_bits() - range_log2 as i32 - 1;
    let range = (range_log2 as f64).exp2();
    // Sigmoid and tanh keep each bin's left end, as they always have; the functions with a
    // line take the bin's middle, which halves their error where they are steepest (near 0).
    let offset = if linear.is_some() || matches!(function, TableFunction::Softplus) { 0.5 } else { 0.0 };
    let entries = (0..size)
        .map(|k| {
            let x = -range + (k as f64 + offset) * 2.0 * range / size as f64;
            result.from_f64(activation.eval(x)).map_err(|e| precision_error(name, e))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LayerOp::Table { function, entries, range_log2, index_shift, linear })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_are_rounded_inward_to_the_input_grid_and_kept_in_its_range() {
        let ty: FixedType = "ap_fixed<8,4>".parse().unwrap(); // steps of 1/16, up to 7.9375
        assert_eq!(clip(0.0, 6.0, ty, "relu6").unwrap(), LayerOp::Clip { low: 0, high: 96 });
        assert_eq!(clip(-0.51, 1.51, ty, "c").unwrap(), LayerOp::Clip { low: -8, high: 24 });
        assert_eq!(clip(f64::NEG_INFINITY, 100.0, ty, "c").unwrap(), LayerOp::Clip { low: -128, high: 127 });
        let none = clip(0.3, 0.31, ty, "narrow").unwrap_err().to_string();
        assert!(none.contains("narrow") && none.contains("hold no value"), "{none}");
    }

    #[test]
    fn each_table_function_is_its_own_and_computed_activations_have_none() {
        let ty: FixedType = "ap_fixed<16,6>".parse().unwrap();
        let function = |a| match table(a, 64, ty, ty, "t") {
            Ok(LayerOp::Table { function, .. }) => Ok(function),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(function(Activation::Sigmoid), Ok(TableFunction::Sigmoid));
        assert_eq!(function(Activation::Tanh), Ok(TableFunction::Tanh));
        let err = function(Activation::LeakyRelu { alpha: 0.1 }).unwrap_err();
        assert!(err.contains("layer 't'") && err.contains("not looked up in a table"), "{err}");
    }
}

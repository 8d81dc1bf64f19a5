//! Quantization nodes, read on the raw protobuf before onnx-ir sees the model: QONNX `Quant`,
//! `BipolarQuant` and `Trunc` (Brevitas' `export_qonnx`), and QuantizeLinear/DequantizeLinear
//! with Brevitas' QCDQ `Clip` between them (QDQ, as onnxruntime's static quantizer and
//! Brevitas' `export_onnx_qcdq` write them).
//!
//! A quantizer on a constant (weights, biases) is evaluated here: the constant becomes the
//! quantized values, and the exact type of those values is remembered for the layer that
//! reads them. A quantizer on a run-time tensor becomes a one-input `Quant` node of QONNX's
//! domain that keeps the quantizer's name (onnx-ir passes it through as a custom operator;
//! it would drop an Identity); the frontend turns it into a typed cast. What is not one `ap_fixed` cast
//! is refused here, with the node and the reason named.

mod codes;
mod integer;
mod tensors;

use integer::{exact_type, IntQuantizer, IntRange, Param, Rounding};

use crate::fixed::FixedType;
use crate::ir::{CodeScales, Requantize};
use crate::{Error, Result};
use codes::IntegerConstant;
use onnx_ir::{ModelProto, NodeProto};
use std::collections::{HashMap, HashSet};
use tensors::{constants, float_tensor, ConstTensor};

/// The domains QONNX operators are exported under (FINN's and early Brevitas' included).
const QONNX_DOMAINS: [&str; 3] = ["qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas"];

/// The operator a quantizer on a run-time tensor is left as, for the frontend to find.
pub const CAST_OP: (&str, &str) = ("Quant", "qonnx.custom_op.general");

/// What the quantization nodes of a model declare.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quantizers {
    /// The name of each node left for a quantizer on a run-time tensor, and its cast.
    pub activations: HashMap<String, FixedType>,
    /// The name of each constant a quantizer produced, and the exact type of its values.
    pub constants: HashMap<String, FixedType>,
    /// The name of each node left for a quantizer on integer codes, its fixed-point
    /// multiplier and the type of the codes it produces.
    pub requantizers: HashMap<String, (Requantize, FixedType)>,
    /// The code scales of the input and output, where they travel as codes.
    pub scales: CodeScales,
}

impl Quantizers {
    /// The declared weight and bias types of a linear node (Gemm, MatMul, Conv, ConvTranspose).
    pub fn layer_types(&self, node: &NodeProto) -> crate::ir::Declared {
        let type_of = |i: usize| node.input.get(i).and_then(|name| self.constants.get(name)).copied();
        match node.op_type.as_str() {
            "Gemm" | "MatMul" | "Conv" | "ConvTranspose" => {
                crate::ir::Declared { weight: type_of(1), bias: type_of(2), result: None }
            }
            _ => crate::ir::Declared::default(),
        }
    }
}

/// Rewrites every quantization node of the model as described in the module documentation.
pub fn fold_quantizers(model: &mut ModelProto) -> Result<Quantizers> {
    let found = fold_graph(model.graph.as_mut().expect("a model with a graph"))?;
    let domain = CAST_OP.1;
    if !found.activations.is_empty() && !model.opset_import.iter().any(|o| o.domain == domain) {
        let mut opset = model.opset_import.first().cloned().unwrap_or_default();
        opset.domain = domain.to_string();
        opset.version = 1;
        model.opset_import.push(opset);
    }
    Ok(found)
}

fn fold_graph(graph: &mut onnx_ir::GraphProto) -> Result<Quantizers> {
    let mut rewriter = Rewriter {
        values: constants(graph),
        integers: HashMap::new(),
        integer_constants: HashMap::new(),
        units: HashMap::new(),
        graph_inputs: graph.input.iter().map(|i| i.name.clone()).collect(),
        found: Quantizers::default(),
    };
    let mut kept = Vec::with_capacity(graph.node.len());
    let mut added = Vec::new();
    for node in std::mem::take(&mut graph.node) {
        rewriter.refuse_integer_operands(&node)?;
        match rewriter.rewrite(&node)? {
            Rewritten::Kept => kept.push(node),
            Rewritten::Removed => {}
            Rewritten::Cast(cast) => kept.push(*cast),
            Rewritten::Constant { name } => added.push(name),
        }
    }
    for output in &graph.output {
        if let Some(integer) = rewriter.integers.get(&output.name) {
            return Err(Error::unsupported(
                "QuantizeLinear",
                &integer.node,
                format!("the graph output '{}' is its integer tensor; dequantize it first", output.name),
            ));
        }
    }
    for output in &graph.output {
        if let Some(scale) = rewriter.output_scale(&output.name)? {
            rewriter.found.scales.output = Some(scale);
        }
    }
    graph.node = kept;
    // Stored last: a layer on integer codes replaces its constants' values by their codes.
    graph.initializer.extend(added.iter().map(|name| {
        let tensor = &rewriter.values[name];
        float_tensor(name, &tensor.shape, &tensor.values)
    }));
    Ok(rewriter.found)
}

/// An integer tensor between a QuantizeLinear (or an integer initializer) and its
/// DequantizeLinear.
#[derive(Debug, Clone)]
struct IntegerTensor {
    /// The run-time float tensor it quantizes, or None for an integer constant.
    source: Option<String>,
    /// The node that made it, for messages.
    node: String,
    quantizer: IntQuantizer,
}

enum Rewritten {
    Kept,
    Removed,
    /// A quantizer on a run-time tensor, left as a named one-input node.
    Cast(Box<NodeProto>),
    /// A quantized constant, stored as an initializer (its values are kept in `values`).
    Constant {
        name: String,
    },
}

struct Rewriter {
    values: HashMap<String, ConstTensor>,
    integers: HashMap<String, IntegerTensor>,
    /// Quantized constants by name, as integer codes and scale.
    integer_constants: HashMap<String, IntegerConstant>,
    /// Run-time tensors that are integer codes or sums of them: the real value of one unit,
    /// per channel or one for the whole tensor (see `codes`).
    units: HashMap<String, Vec<f64>>,
    graph_inputs: HashSet<String>,
    found: Quantizers,
}

/// A node as messages name it.
struct Named<'a> {
    node: &'a NodeProto,
    name: String,
}

impl Named<'_> {
    fn error(&self, what: impl Into<String>) -> Error {
        let op_type = if self.node.domain.is_empty() || self.node.domain == "ai.onnx" {
            self.node.op_type.clone()
        } else {
            format!("{} (domain {})", self.node.op_type, self.node.domain)
        };
        Error::unsupported(op_type, &self.name, what)
    }
}

impl Rewriter {
    fn rewrite(&mut self, node: &NodeProto) -> Result<Rewritten> {
        let named = Named {
            node,
            name: if node.name.is_empty() { format!("{}_{}", node.op_type, node.output[0]) } else { node.name.clone() },
        };
        if let Some(rewritten) = self.on_codes(&named)? {
            return Ok(rewritten);
        }
        let qonnx = QONNX_DOMAINS.contains(&node.domain.as_str());
        match (qonnx, node.domain.is_empty() || node.domain == "ai.onnx", node.op_type.as_str()) {
            (true, _, "Quant") => self.quant(&named),
            (true, _, "BipolarQuant") => self.bipolar(&named),
            (true, _, "Trunc") => self.trunc(&named),
            (_, true, "QuantizeLinear") => self.quantize_linear(&named),
            (_, true, "DequantizeLinear") => self.dequantize_linear(&named),
            (_, true, "Clip") if self.integer_operand(node).is_some() => self.integer_clip(&named),
            (_, true, "Clip") if self.integer_constant(node).is_some() => self.constant_clip(&named),
            _ => Ok(Rewritten::Kept),
        }
    }

    /// An integer tensor may only be clipped or dequantized.
    fn refuse_integer_operands(&self, node: &NodeProto) -> Result<()> {
        let allowed = matches!(node.op_type.as_str(), "DequantizeLinear" | "Clip");
        match node.input.iter().find_map(|i| self.integers.get(i).filter(|t| t.source.is_some())) {
            Some(integer) if !allowed => Err(Error::unsupported(
                "QuantizeLinear",
                &integer.node,
                format!(
                    "its integer output is read by {} '{}'; only DequantizeLinear (after an optional Clip) may read it",
                    node.op_type, node.name
                ),
            )),
            _ => Ok(()),
        }
    }

    fn integer_operand(&self, node: &NodeProto) -> Option<&IntegerTensor> {
        self.integers.get(node.input.first()?)
    }

    fn integer_constant(&self, node: &NodeProto) -> Option<&ConstTensor> {
        self.values.get(node.input.first()?).filter(|c| c.integer.is_some())
    }

    /// A Clip's integer bounds (absent ones are open).
    fn clip_bounds(&self, named: &Named) -> Result<IntRange> {
        let bound = |index: usize, role: &str, open: i64| -> Result<i64> {
            match named.node.input.get(index).filter(|n| !n.is_empty()) {
                None => Ok(open),
                Some(_) => {
                    let v = self.scalar(named, index, role)?;
                    if v.fract() != 0.0 {
                        return Err(named.error(format!("its {role} {v} is not an integer")));
                    }
                    Ok(v as i64)
                }
            }
        };
        Ok(IntRange { lo: bound(1, "min", i64::MIN)?, hi: bound(2, "max", i64::MAX)? })
    }

    /// Brevitas' QCDQ clips integer weights before dequantizing them.
    fn constant_clip(&mut self, named: &Named) -> Result<Rewritten> {
        let range = self.clip_bounds(named)?;
        let mut codes = self.integer_constant(named.node).expect("checked by the caller").clone();
        codes.values.iter_mut().for_each(|q| *q = q.clamp(range.lo as f64, range.hi as f64));
        self.values.insert(named.node.output[0].clone(), codes);
        Ok(Rewritten::Removed)
    }

    fn constant(&self, named: &Named, index: usize, role: &str) -> Result<&ConstTensor> {
        let name = named.node.input.get(index).filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| named.error(format!("its {role} input is missing")))?;
        self.values.get(name).ok_or_else(|| named.error(format!("its {role} '{name}' is not a constant")))
    }

    fn scalar(&self, named: &Named, index: usize, role: &str) -> Result<f64> {
        let tensor = self.constant(named, index, role)?;
        match tensor.values[..] {
            [v] => Ok(v),
            _ => Err(named.error(format!("its {role} holds {} values, not one", tensor.values.len()))),
        }
    }

    fn param(&self, named: &Named, index: usize, role: &str) -> Result<Param> {
        let tensor = self.constant(named, index, role)?;
        if let Some(bad) = tensor.values.iter().find(|v| !v.is_finite()) {
            return Err(named.error(format!("its {role} holds {bad}")));
        }
        Ok(Param { shape: tensor.shape.clone(), values: tensor.values.clone() })
    }

    fn positive_scale(&self, named: &Named, index: usize) -> Result<Param> {
        let scale = self.param(named, index, "scale")?;
        match scale.values.iter().find(|&&s| s <= 0.0) {
            Some(bad) => Err(named.error(format!("its scale holds {bad}; scales must be positive"))),
            None => Ok(scale),
        }
    }

    fn bits(&self, named: &Named, index: usize, role: &str) -> Result<u32> {
        let bits = self.scalar(named, index, role)?;
        if bits.fract() != 0.0 || !(1.0..=63.0).contains(&bits) {
            return Err(named.error(format!("its {role} {bits} is not a whole number of bits from 1 to 63")));
        }
        Ok(bits as u32)
    }

    fn int_attribute(node: &NodeProto, name: &str, default: i64) -> i64 {
        node.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.i)
    }

    fn rounding(named: &Named, default: &str) -> Result<Rounding> {
        let text = named
            .node
            .attribute
            .iter()
            .find(|a| a.name == "rounding_mode")
            .map_or(default.to_string(), |a| String::from_utf8_lossy(&a.s).into_owned());
        Rounding::parse(&text)
            .ok_or_else(|| named.error(format!("its rounding_mode '{text}' is not one QONNX defines")))
    }

    /// A quantizer applied to input 0 of the node: evaluated on a constant, a cast on a
    /// run-time tensor.
    fn apply(&mut self, named: &Named, quantizer: IntQuantizer) -> Result<Rewritten> {
        let input = &named.node.input[0];
        let output = named.node.output[0].clone();
        if let Some(data) = self.values.get(input) {
            let shape = data.shape.clone();
            let codes = quantizer.codes(&shape, &data.values);
            let values = quantizer.dequantize(&shape, &codes);
            self.remember_codes(&output, &shape, &codes, &quantizer);
            return Ok(self.quantized_constant(output, shape, values, quantizer.cast_type().ok()));
        }
        if let Some(rewritten) = self.quantize_codes(named, input, output.clone(), &quantizer)? {
            return Ok(rewritten);
        }
        let ty = quantizer.cast_type().map_err(|why| named.error(why.to_string()))?;
        Ok(self.cast(named, input, output, ty))
    }

    fn quantized_constant(
        &mut self,
        name: String,
        shape: Vec<usize>,
        values: Vec<f64>,
        declared: Option<FixedType>,
    ) -> Rewritten {
        // A per-tensor power-of-two quantizer names its own type; any other scale gives values
        // that are each an integer times a power of two, held exactly by a wider type.
        let ty = declared
            .filter(|t| values.iter().all(|&v| t.from_f64(v).is_ok_and(|c| t.to_f64(c) == v)))
            .map_or_else(|| exact_type(&values), Ok)
            .expect("a quantized constant has a small exact type");
        self.found.constants.insert(name.clone(), ty);
        self.values.insert(name.clone(), ConstTensor { shape, values, integer: None });
        Rewritten::Constant { name }
    }

    /// A quantized constant's codes `q - zero_point` and scale, for a layer on integer codes.
    fn remember_codes(&mut self, name: &str, shape: &[usize], codes: &[f64], quantizer: &IntQuantizer) {
        let codes = codes.iter().enumerate().map(|(k, &q)| q - quantizer.zero_point.at(shape, k)).collect();
        let constant = IntegerConstant { shape: shape.to_vec(), codes, scale: quantizer.scale.clone() };
        self.integer_constants.insert(name.to_string(), constant);
    }

    fn cast(&mut self, named: &Named, input: &str, output: String, ty: FixedType) -> Rewritten {
        let mut cast = NodeProto::new();
        cast.name = named.name.clone();
        (cast.op_type, cast.domain) = (CAST_OP.0.into(), CAST_OP.1.into());
        cast.input = vec![input.to_string()];
        cast.output = vec![output];
        self.found.activations.insert(named.name.clone(), ty);
        Rewritten::Cast(Box::new(cast))
    }

    fn quant(&mut self, named: &Named) -> Result<Rewritten> {
        let node = named.node;
        let signed = Self::int_attribute(node, "signed", 1) != 0;
        let narrow = Self::int_attribute(node, "narrow", 0) != 0;
        let bits = self.bits(named, 3, "bit width")?;
        if bits == 1 && signed {
            // QONNX's execution turns a signed 1-bit Quant into a bipolar one.
            return self.bipolar(named);
        }
        let quantizer = IntQuantizer {
            scale: self.positive_scale(named, 1)?,
            zero_point: self.param(named, 2, "zero point")?,
            range: IntRange::of(bits, signed, narrow),
            rounding: Self::rounding(named, "ROUND")?,
        };
        self.apply(named, quantizer)
    }

    fn bipolar(&mut self, named: &Named) -> Result<Rewritten> {
        let scale = self.positive_scale(named, 1)?;
        let input = &named.node.input[0];
        let Some(data) = self.values.get(input) else {
            return Err(
                named.error("a bipolar quantizer on a run-time tensor is a sign function, not a fixed-point cast")
            );
        };
        let shape = data.shape.clone();
        // sign(x) with sign(0) = +1, times the scale.
        let signs: Vec<f64> = data.values.iter().map(|&x| if x >= 0.0 { 1.0 } else { -1.0 }).collect();
        let quantizer = IntQuantizer {
            scale,
            zero_point: Param::scalar(0.0),
            range: IntRange { lo: -1, hi: 1 },
            rounding: Rounding::Floor,
        };
        let values = quantizer.dequantize(&shape, &signs);
        Ok(self.quantized_constant(named.node.output[0].clone(), shape, values, None))
    }

    /// QONNX Trunc (opset 2): the input, already on `scale`'s grid, is rounded down to
    /// `output_scale`'s grid and clipped to `output_bit_width` bits.
    fn trunc(&mut self, named: &Named) -> Result<Rewritten> {
        let node = named.node;
        if node.input.len() != 6 {
            return Err(named.error(format!(
                "it has {} inputs; Trunc as QONNX's opset 2 defines it has 6 (re-export with a current Brevitas)",
                node.input.len()
            )));
        }
        let zero_point = self.param(named, 2, "zero point")?;
        if zero_point.values.iter().any(|&z| z != 0.0) {
            return Err(named.error("its zero point is not 0"));
        }
        let quantizer = IntQuantizer {
            scale: self.positive_scale(named, 4)?,
            zero_point,
            range: IntRange::of(
                self.bits(named, 5, "output bit width")?,
                Self::int_attribute(node, "signed", 1) != 0,
                Self::int_attribute(node, "narrow", 0) != 0,
            ),
            rounding: Self::rounding(named, "FLOOR")?,
        };
        self.apply(named, quantizer)
    }

    /// Per-axis parameters of QuantizeLinear/DequantizeLinear, shaped to broadcast along `axis`.
    fn axis_param(&self, named: &Named, index: usize, role: &str, rank: usize) -> Result<Param> {
        let mut param =
            if role == "scale" { self.positive_scale(named, index)? } else { self.param(named, index, role)? };
        if param.values.len() > 1 {
            let axis = Self::int_attribute(named.node, "axis", 1);
            let axis = if axis < 0 { axis + rank as i64 } else { axis };
            if !(0..rank as i64).contains(&axis) {
                return Err(named.error(format!("its axis {axis} is outside a tensor of rank {rank}")));
            }
            let mut shape = vec![1; rank];
            shape[axis as usize] = param.values.len();
            param.shape = shape;
        }
        Ok(param)
    }

    fn quantize_linear(&mut self, named: &Named) -> Result<Rewritten> {
        let node = named.node;
        let (bits, signed) = match node.input.get(2).filter(|n| !n.is_empty()) {
            Some(_) => self
                .constant(named, 2, "zero point")?
                .integer
                .ok_or_else(|| named.error("its zero point is not of an integer type"))?,
            None => match Self::int_attribute(node, "output_dtype", 0) {
                0 => (8, false),
                code => tensors::integer_type(code as i32)
                    .ok_or_else(|| named.error(format!("its output_dtype {code} is not an integer type")))?,
            },
        };
        if bits > 16 {
            return Err(
                named.error(format!("it quantizes to {bits} bits; QuantizeLinear is read for 4, 8 and 16 bits"))
            );
        }
        let rank = self.values.get(&node.input[0]).map_or(1, |c| c.shape.len());
        let zero_point = match node.input.get(2).filter(|n| !n.is_empty()) {
            Some(_) => self.axis_param(named, 2, "zero point", rank)?,
            None => Param::scalar(0.0),
        };
        let quantizer = IntQuantizer {
            scale: self.axis_param(named, 1, "scale", rank)?,
            zero_point,
            range: IntRange::of(bits, signed, false),
            rounding: Rounding::HalfEven,
        };
        let input = node.input[0].clone();
        let output = node.output[0].clone();
        if let Some(data) = self.values.get(&input) {
            // A constant quantized at load time: keep its integer codes.
            let codes = quantizer.codes(&data.shape, &data.values);
            let shape = data.shape.clone();
            self.values.insert(output.clone(), ConstTensor { shape, values: codes, integer: Some((bits, signed)) });
            return Ok(Rewritten::Removed);
        }
        self.integers.insert(output, IntegerTensor { source: Some(input), node: named.name.clone(), quantizer });
        Ok(Rewritten::Removed)
    }

    /// Brevitas' QCDQ narrows the integer range (fewer bits, or a narrow range) with a Clip.
    fn integer_clip(&mut self, named: &Named) -> Result<Rewritten> {
        let node = named.node;
        let mut integer = self.integer_operand(node).expect("checked by the caller").clone();
        let range = self.clip_bounds(named)?;
        integer.quantizer.range = integer.quantizer.range.intersect(range);
        self.integers.insert(node.output[0].clone(), integer);
        Ok(Rewritten::Removed)
    }

    fn dequantize_linear(&mut self, named: &Named) -> Result<Rewritten> {
        let node = named.node;
        let input = &node.input[0];
        let output = node.output[0].clone();
        if let Some(integer) = self.integers.get(input).cloned() {
            let rank = 1;
            let scale = self.axis_param(named, 1, "scale", rank)?;
            let zero_point = match node.input.get(2).filter(|n| !n.is_empty()) {
                Some(_) => self.axis_param(named, 2, "zero point", rank)?,
                None => Param::scalar(0.0),
            };
            if scale.values != integer.quantizer.scale.values
                || zero_point.values != integer.quantizer.zero_point.values
            {
                return Err(named.error(format!(
                    "its scale or zero point differs from those of QuantizeLinear '{}' (a requantization, not a cast)",
                    integer.node
                )));
            }
            let source = integer.source.expect("integer constants are kept as values");
            let named_q = Named { node, name: integer.node.clone() };
            if let Some(rewritten) = self.quantize_codes(&named_q, &source, output.clone(), &integer.quantizer)? {
                return Ok(rewritten);
            }
            let ty = integer
                .quantizer
                .cast_type()
                .map_err(|why| Error::unsupported("QuantizeLinear", &integer.node, why.to_string()))?;
            return Ok(self.cast(&named_q, &source, output, ty));
        }
        let codes = self.constant(named, 0, "input")?.clone();
        let (bits, signed) =
            codes.integer.ok_or_else(|| named.error(format!("its input '{input}' is not of an integer type")))?;
        let rank = codes.shape.len();
        let zero_point = match node.input.get(2).filter(|n| !n.is_empty()) {
            Some(_) => self.axis_param(named, 2, "zero point", rank)?,
            None => Param::scalar(0.0),
        };
        let quantizer = IntQuantizer {
            scale: self.axis_param(named, 1, "scale", rank)?,
            zero_point,
            range: IntRange::of(bits, signed, false),
            rounding: Rounding::HalfEven,
        };
        let values = quantizer.dequantize(&codes.shape, &codes.values);
        self.remember_codes(&output, &codes.shape, &codes.values, &quantizer);
        let declared = quantizer.cast_type().ok().filter(|_| bits <= 16);
        Ok(self.quantized_constant(output, codes.shape, values, declared))
    }
}

//! Folds the shape arithmetic that exporters emit in front of a Reshape (PyTorch writes
//! Shape, Slice, Concat, Constant, Mod and Add for `nn.Unflatten`) into a constant
//! shape, on the raw protobuf, before onnx-ir's type inference sees it.
//!
//! Dimensions are tracked symbolically: the leading batch dimension stays a symbol, so
//! the folded shape spells it -1, and the result holds for every batch size.

use super::raw::{int64_tensor, integer_values};
use crate::{Error, Result};
use onnx_ir::{AttributeProto, GraphProto, ModelProto, NodeProto};
use std::collections::{HashMap, HashSet};

/// One dimension, or one element of a computed shape vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sym {
    Int(i64),
    Batch,
    Unknown,
}

type Dims = Vec<Sym>;

/// Replaces every Reshape whose shape is computed at run time by one with a constant
/// shape, and drops the subgraphs that computed it.
pub fn fold_shape_subgraphs(model: &mut ModelProto) -> Result<()> {
    let graph = model.graph.as_mut().expect("a model with a graph");
    let mut facts = Facts::new(graph);
    let mut folded = Vec::new();
    for node in &graph.node {
        facts.visit(node);
        if node.op_type == "Reshape" && node.input.len() == 2 && !facts.is_initializer(&node.input[1]) {
            let shape = facts.values.get(&node.input[1]).ok_or_else(|| {
                Error::unsupported(
                    "Reshape",
                    &node.name,
                    format!(
                        "its target shape '{}' is computed by operators that cannot be folded to a constant",
                        node.input[1]
                    ),
                )
            })?;
            folded.push((node.name.clone(), 1, node.input[1].clone(), constant_shape(node, shape)?));
        }
        // A Resize to sizes computed from its input's shape (dynamo writes the batch and the
        // channels that way, the spatial sizes as constants).
        let sizes_computed = node.op_type == "Resize"
            && node.input.get(3).is_some_and(|sizes| !sizes.is_empty() && !facts.is_initializer(sizes));
        if sizes_computed {
            if let Some(sizes) = facts.values.get(&node.input[3]) {
                folded.push((node.name.clone(), 3, node.input[3].clone(), constant_sizes(sizes)));
            }
        }
    }
    for (node_name, position, input, shape) in folded {
        let name = format!("{input}__folded");
        graph.initializer.push(int64_tensor(&name, &shape));
        let node = graph.node.iter_mut().find(|n| n.name == node_name).expect("folded node exists");
        node.input[position] = name;
    }
    remove_dead_nodes(graph);
    Ok(())
}

/// A Resize's sizes as constants: the batch entry is never read (Resize keeps the batch),
/// so any value stands for it; an unknown one is -1, which the Resize refuses by name.
fn constant_sizes(sizes: &[Sym]) -> Vec<i64> {
    sizes
        .iter()
        .map(|s| match s {
            Sym::Int(v) => *v,
            Sym::Batch => 1,
            Sym::Unknown => -1,
        })
        .collect()
}

fn constant_shape(node: &NodeProto, shape: &[Sym]) -> Result<Vec<i64>> {
    let unknown = shape.iter().filter(|s| !matches!(s, Sym::Int(_))).count();
    if unknown > 1 {
        return Err(Error::unsupported(
            "Reshape",
            &node.name,
            format!("its target shape {shape:?} has more than one dimension that is not known before run time"),
        ));
    }
    Ok(shape
        .iter()
        .map(|s| match s {
            Sym::Int(v) => *v,
            _ => -1,
        })
        .collect())
}

/// Keeps only the nodes that some graph output depends on.
fn remove_dead_nodes(graph: &mut GraphProto) {
    let mut needed: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node.input.iter().cloned());
        }
    }
    let mut flags = keep.into_iter();
    graph.node.retain(|_| flags.next().expect("one flag per node"));
}

/// What is known statically about each tensor: its dimensions, and for small integer
/// tensors (shapes) their values.
struct Facts {
    dims: HashMap<String, Dims>,
    values: HashMap<String, Dims>,
    initializers: HashSet<String>,
}

impl Facts {
    fn new(graph: &GraphProto) -> Self {
        let mut facts = Facts {
            dims: HashMap::new(),
            values: HashMap::new(),
            initializers: graph.initializer.iter().map(|t| t.name.clone()).collect(),
        };
        for tensor in &graph.initializer {
            facts.dims.insert(tensor.name.clone(), tensor.dims.iter().map(|&d| Sym::Int(d)).collect());
            if let Some(values) = integer_values(tensor) {
                facts.values.insert(tensor.name.clone(), values.into_iter().map(Sym::Int).collect());
            }
        }
        for input in graph.input.iter().filter(|i| !facts.initializers.contains(&i.name)) {
            let shape = &input.type_.tensor_type().shape;
            let dims = shape
                .dim
                .iter()
                .enumerate()
                .map(|(axis, d)| match (axis, d.has_dim_value()) {
                    // The leading axis is the batch, even where an exporter fixed it.
                    (0, _) => Sym::Batch,
                    (_, true) => Sym::Int(d.dim_value()),
                    _ => Sym::Unknown,
                })
                .collect();
            facts.dims.insert(input.name.clone(), dims);
        }
        facts
    }

    fn is_initializer(&self, name: &str) -> bool {
        self.initializers.contains(name)
    }

    fn visit(&mut self, node: &NodeProto) {
        if let Some(dims) = self.output_dims(node) {
            self.dims.insert(node.output[0].clone(), dims);
        }
        if let Some(values) = self.output_values(node) {
            self.values.insert(node.output[0].clone(), values);
        }
    }

    fn input_dims(&self, node: &NodeProto, i: usize) -> Option<&Dims> {
        node.input.get(i).and_then(|name| self.dims.get(name))
    }

    fn input_values(&self, node: &NodeProto, i: usize) -> Option<&Dims> {
        node.input.get(i).and_then(|name| self.values.get(name))
    }

    fn output_dims(&self, node: &NodeProto) -> Option<Dims> {
        let input = || self.input_dims(node, 0).cloned();
        match node.op_type.as_str() {
            "Relu" | "LeakyRelu" | "PRelu" | "Sigmoid" | "Tanh" | "Softplus" | "Identity" | "Dropout"
            | "BatchNormalization" | "Cast" | "Softmax" | "Elu" | "Selu" | "HardSigmoid" | "Clip" => input(),
            "Add" | "Sub" | "Mul" | "Div" | "Mod" => broadcast(self.input_dims(node, 0)?, self.input_dims(node, 1)?),
            "Gemm" => {
                let a = self.input_dims(node, 0)?;
                let b = self.input_dims(node, 1)?;
                let rows = a[usize::from(int_attribute(node, "transA", 0) != 0)];
                let cols = b[usize::from(int_attribute(node, "transB", 0) == 0)];
                Some(vec![rows, cols])
            }
            "MatMul" => {
                let mut a = input()?;
                let b = self.input_dims(node, 1)?;
                *a.last_mut()? = *b.last()?;
                Some(a)
            }
            "Conv" | "ConvTranspose" => self.conv_dims(node),
            "Flatten" => {
                let dims = input()?;
                let axis = int_attribute(node, "axis", 1) as usize;
                Some(vec![product(&dims[..axis]), product(&dims[axis..])])
            }
            "Reshape" => {
                let dims = input()?;
                let shape = self.input_values(node, 1)?;
                Some(reshape(&dims, shape))
            }
            "Shape" => Some(vec![Sym::Int(self.input_dims(node, 0)?.len() as i64)]),
            "Constant" => constant_attribute(node).map(|t| t.dims.iter().map(|&d| Sym::Int(d)).collect()),
            _ => None,
        }
    }

    fn conv_dims(&self, node: &NodeProto) -> Option<Dims> {
        let input = self.input_dims(node, 0)?;
        let weight = self.input_dims(node, 1)?;
        let transposed = node.op_type == "ConvTranspose";
        let spatial = input.len().checked_sub(2)?;
        let kernel = ints_attribute(node, "kernel_shape")
            .unwrap_or_else(|| weight[2..].iter().map(|s| if let Sym::Int(v) = s { *v } else { 0 }).collect());
        let ones = vec![1; spatial];
        let strides = ints_attribute(node, "strides").unwrap_or_else(|| ones.clone());
        let dilations = ints_attribute(node, "dilations").unwrap_or_else(|| ones.clone());
        let pads = ints_attribute(node, "pads").unwrap_or_else(|| vec![0; 2 * spatial]);
        let output_padding = ints_attribute(node, "output_padding").unwrap_or_else(|| vec![0; spatial]);
        let group = int_attribute(node, "group", 1);
        let channels = if transposed {
            match weight[1] {
                Sym::Int(c) => Sym::Int(c * group),
                other => other,
            }
        } else {
            weight[0]
        };
        let mut dims = vec![input[0], channels];
        for d in 0..spatial {
            let span = dilations[d] * (kernel[d] - 1) + 1;
            dims.push(match input[2 + d] {
                Sym::Int(n) if transposed => {
                    Sym::Int(strides[d] * (n - 1) + output_padding[d] + span - pads[d] - pads[d + spatial])
                }
                Sym::Int(n) => Sym::Int((n + pads[d] + pads[d + spatial] - span) / strides[d] + 1),
                other => other,
            });
        }
        Some(dims)
    }

    fn output_values(&self, node: &NodeProto) -> Option<Dims> {
        let arg = |i: usize| self.input_values(node, i);
        match node.op_type.as_str() {
            "Constant" => integer_values(constant_attribute(node)?).map(|v| v.into_iter().map(Sym::Int).collect()),
            "Shape" => {
                let dims = self.input_dims(node, 0)?;
                let rank = dims.len() as i64;
                let start = clamp_index(int_attribute(node, "start", 0), rank);
                let end = clamp_index(int_attribute(node, "end", rank), rank);
                Some(dims[start..end.max(start)].to_vec())
            }
            "Identity" | "Cast" | "Squeeze" | "Unsqueeze" | "Reshape" => arg(0).cloned(),
            "Concat" => {
                let mut out = Vec::new();
                for i in 0..node.input.len() {
                    out.extend_from_slice(arg(i)?);
                }
                Some(out)
            }
            "Slice" => slice(arg(0)?, arg(1)?, arg(2)?, arg(3), arg(4)),
            "Gather" => {
                let data = arg(0)?;
                arg(1)?
                    .iter()
                    .map(|i| match i {
                        Sym::Int(i) => data.get(clamp_index(*i, data.len() as i64)).copied(),
                        _ => None,
                    })
                    .collect()
            }
            "Add" | "Sub" | "Mul" | "Div" | "Mod" => elementwise(&node.op_type, arg(0)?, arg(1)?),
            _ => None,
        }
    }
}

fn int_attribute(node: &NodeProto, name: &str, default: i64) -> i64 {
    node.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.i)
}

fn ints_attribute(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone())
}

fn constant_attribute(node: &NodeProto) -> Option<&onnx_ir::TensorProto> {
    node.attribute.iter().find(|a: &&AttributeProto| a.name == "value").and_then(|a| a.t.as_ref())
}

fn clamp_index(index: i64, len: i64) -> usize {
    let index = if index < 0 { index + len } else { index };
    index.clamp(0, len) as usize
}

fn product(dims: &[Sym]) -> Sym {
    dims.iter().fold(Sym::Int(1), |acc, d| match (acc, d) {
        (Sym::Int(a), Sym::Int(b)) => Sym::Int(a * b),
        (Sym::Int(1), Sym::Batch) => Sym::Batch,
        _ => Sym::Unknown,
    })
}

fn broadcast(a: &Dims, b: &Dims) -> Option<Dims> {
    let rank = a.len().max(b.len());
    let at = |d: &Dims, i: usize| if i + d.len() >= rank { d[i + d.len() - rank] } else { Sym::Int(1) };
    Some(
        (0..rank)
            .map(|i| match (at(a, i), at(b, i)) {
                (Sym::Int(1), other) | (other, Sym::Int(1)) => other,
                (x, y) if x == y => x,
                _ => Sym::Unknown,
            })
            .collect(),
    )
}

fn reshape(input: &Dims, shape: &Dims) -> Dims {
    let mut out: Dims = shape
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Sym::Int(0) => input.get(i).copied().unwrap_or(Sym::Unknown),
            Sym::Int(-1) => Sym::Unknown,
            other => *other,
        })
        .collect();
    // With the batch carried through, a single unknown per-sample extent is whatever
    // the sample's element count leaves for it.
    let holes: Vec<usize> = out.iter().enumerate().filter(|(_, s)| **s == Sym::Unknown).map(|(i, _)| i).collect();
    let batch_kept = input.first() == Some(&Sym::Batch) && out.first() == Some(&Sym::Batch);
    if let ([hole], true) = (holes.as_slice(), batch_kept) {
        let known: Vec<Sym> = out[1..].iter().copied().filter(|s| *s != Sym::Unknown).collect();
        if let (Sym::Int(total), Sym::Int(known)) = (product(&input[1..]), product(&known)) {
            if known > 0 {
                out[*hole] = Sym::Int(total / known);
            }
        }
    }
    out
}

fn slice(data: &Dims, starts: &Dims, ends: &Dims, axes: Option<&Dims>, steps: Option<&Dims>) -> Option<Dims> {
    let int = |s: &Sym| if let Sym::Int(v) = s { Some(*v) } else { None };
    if starts.len() != 1 || axes.is_some_and(|a| a.iter().any(|a| int(a) != Some(0))) {
        return None;
    }
    if steps.is_some_and(|s| s.iter().any(|s| int(s) != Some(1))) {
        return None;
    }
    let len = data.len() as i64;
    let start = clamp_index(int(&starts[0])?, len);
    let end = clamp_index(int(&ends[0])?.min(len), len);
    Some(data[start..end.max(start)].to_vec())
}

fn elementwise(op: &str, a: &Dims, b: &Dims) -> Option<Dims> {
    let len = a.len().max(b.len());
    let at = |d: &Dims, i: usize| if d.len() == 1 { d[0] } else { d.get(i).copied().unwrap_or(Sym::Unknown) };
    Some(
        (0..len)
            .map(|i| match (at(a, i), at(b, i)) {
                (Sym::Int(x), Sym::Int(y)) => match op {
                    "Add" => Sym::Int(x + y),
                    "Sub" => Sym::Int(x - y),
                    "Mul" => Sym::Int(x * y),
                    "Div" if y != 0 => Sym::Int(x.div_euclid(y)),
                    "Mod" if y != 0 => Sym::Int(x.rem_euclid(y)),
                    _ => Sym::Unknown,
                },
                _ => Sym::Unknown,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unflatten_arithmetic_folds_with_a_symbolic_batch() {
        // Shape of [batch, 32], sliced as PyTorch's Unflatten(1, (2, 4, 4)) does.
        let shape = vec![Sym::Batch, Sym::Int(32)];
        let head = slice(&shape, &vec![Sym::Int(0)], &vec![Sym::Int(1)], None, None).unwrap();
        let tail = slice(&shape, &vec![Sym::Int(2)], &vec![Sym::Int(i64::MAX)], None, None).unwrap();
        let target: Dims = head.into_iter().chain([Sym::Int(2), Sym::Int(4), Sym::Int(4)]).chain(tail).collect();
        assert_eq!(target, vec![Sym::Batch, Sym::Int(2), Sym::Int(4), Sym::Int(4)]);
        assert_eq!(elementwise("Mod", &vec![Sym::Int(3)], &vec![Sym::Int(2)]), Some(vec![Sym::Int(1)]));
    }

    #[test]
    fn reshape_resolves_one_hole_when_the_batch_is_kept() {
        let input = vec![Sym::Batch, Sym::Int(8), Sym::Int(4)];
        let out = reshape(&input, &vec![Sym::Batch, Sym::Int(-1), Sym::Int(2)]);
        assert_eq!(out, vec![Sym::Batch, Sym::Int(16), Sym::Int(2)]);
        let out = reshape(&input, &vec![Sym::Int(0), Sym::Int(-1), Sym::Int(-1)]);
        assert_eq!(out[1], Sym::Unknown);
    }
}

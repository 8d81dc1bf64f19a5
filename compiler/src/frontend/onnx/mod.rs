//! The ONNX frontend: protobuf pre-pass (external data, shape folding, original names),
//! then onnx-ir for typed operators, then conversion into the IR.

mod convert;
mod names;
mod quantizers;
mod raw;
mod shape_fold;

pub use convert::SUPPORTED;

use crate::ir::{Declared, Graph, NodeId, Op};
use crate::{Error, Result};
use onnx_ir::{ArgType, Message, OnnxGraphBuilder};
use std::collections::HashMap;
use std::path::Path;

/// Loads an ONNX model file (weights inline or in external data files next to it).
pub fn load(path: &Path) -> Result<Graph> {
    let mut model = raw::read_model(path)?;
    let quantizers = quantizers::fold_quantizers(&mut model)?;
    shape_fold::fold_shape_subgraphs(&mut model)?;
    let graph_proto = model.graph.as_ref().expect("read_model checks for a graph");
    let mut matcher = names::NameMatcher::new(&graph_proto.node);
    let layer_types: HashMap<String, Declared> = graph_proto
        .node
        .iter()
        .enumerate()
        .map(|(i, n)| (names::original_name(i, n), quantizers.layer_types(n)))
        .filter(|(_, declared)| !declared.is_empty())
        .collect();
    let output_names: Vec<String> = graph_proto.output.iter().map(|o| o.name.clone()).collect();
    let bytes = model.write_to_bytes().map_err(|e| invalid(path, e.to_string()))?;
    let parsed =
        OnnxGraphBuilder::new().simplify(false).parse_bytes(&bytes).map_err(|e| invalid(path, e.to_string()))?;

    let name = path.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let mut graph = Graph::new(name);
    graph.scales = quantizers.scales;
    let mut producers: HashMap<String, NodeId> = HashMap::new();
    for input in &parsed.inputs {
        let shape = per_sample_shape(&input.ty)
            .ok_or_else(|| invalid(path, format!("input '{}' has no static shape ({})", input.name, input.ty)))?;
        let id = graph.add(&input.name, Op::Input { shape });
        producers.insert(input.name.clone(), id);
    }
    for node in &parsed.nodes {
        let original = matcher.original(node);
        let requantizer = quantizers.requantizers.get(&original.name).filter(|_| is_custom(node));
        let converted = match (node, quantizers.activations.get(&original.name)) {
            _ if requantizer.is_some() => {
                let (requantize, _) = requantizer.expect("checked");
                convert::Converted { op: Op::Requantize(requantize.clone()), dynamic_inputs: vec![0] }
            }
            (onnx_ir::Node::Custom(_), Some(&ty)) => {
                convert::Converted { op: Op::Quantize(ty), dynamic_inputs: vec![0] }
            }
            _ => convert::convert(node, &original)?,
        };
        let id = graph.add(&original.name, converted.op);
        if let Some(&declared) = layer_types.get(&original.name) {
            graph.node_mut(id).declared = declared;
        }
        if let Some(&(_, ty)) = requantizer {
            graph.node_mut(id).declared.result = Some(ty);
        }
        for (slot, &i) in converted.dynamic_inputs.iter().enumerate() {
            let arg = &node.inputs()[i];
            let producer = match producers.get(&arg.name) {
                Some(&p) => p,
                None if arg.value().is_some() => {
                    let constant = graph.add(format!("{}.{i}", original.name), Op::Constant(constant_tensor(arg)?));
                    producers.insert(arg.name.clone(), constant);
                    constant
                }
                None => {
                    return Err(Error::unsupported(
                        original.qualified_op_type(),
                        &original.name,
                        format!("its input '{}' comes from nowhere", arg.name),
                    ))
                }
            };
            graph.connect(producer, id, slot);
        }
        for output in node.outputs() {
            producers.insert(output.name.clone(), id);
        }
    }
    for (output, original_name) in parsed.outputs.iter().zip(output_names) {
        let source = producers[&output.name];
        let id = graph.add(original_name, Op::Output);
        graph.connect(source, id, 0);
    }
    Ok(graph)
}

fn is_custom(node: &onnx_ir::Node) -> bool {
    matches!(node, onnx_ir::Node::Custom(_))
}

fn invalid(path: &Path, message: String) -> Error {
    Error::InvalidModel { path: path.to_path_buf(), message }
}

/// The shape without the leading batch dimension, if every other extent is known.
fn per_sample_shape(ty: &ArgType) -> Option<Vec<usize>> {
    match ty {
        ArgType::Tensor(t) => {
            let dims = t.static_shape.as_ref()?;
            dims.iter().skip(1).copied().collect()
        }
        _ => None,
    }
}

fn constant_tensor(arg: &onnx_ir::Argument) -> Result<crate::ir::Tensor> {
    use onnx_ir::TensorDataExt;
    let data = arg.value().expect("checked by the caller");
    let values =
        data.to_f64_vec().map_err(|e| Error::Other(format!("constant '{}' has unreadable data ({e:?})", arg.name)))?;
    Ok(crate::ir::Tensor::new(data.shape().iter().copied().collect(), values))
}

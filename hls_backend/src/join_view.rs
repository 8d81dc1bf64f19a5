//! The view of a layer where two branches meet: a skip connection's sum or a concatenation.

use crate::view::{comment, Buffer, KernelCall, LayerView, Names, Typedef};
use crate::Error;
use balerc_compiler::quant::model::LayerOp;
use balerc_compiler::quant::QuantizedModel;

pub fn join_view(model: &QuantizedModel, names: &Names, k: usize) -> Result<LayerView, Error> {
    let layer = &model.layers[k];
    let y = &model.values[layer.output];
    let (y_t, y_a) = (&names.types[layer.output], &names.arrays[layer.output]);
    let [a, b] = layer.inputs[..] else {
        return Err(Error::Unsupported(format!(
            "{} layer '{}' joins {} tensors; the HLS kernels join two",
            layer.op.kind(),
            layer.name,
            layer.inputs.len()
        )));
    };
    let is_output = layer.output == model.output;
    let mut typedefs = Vec::new();
    if !is_output {
        typedefs.push(Typedef { ty: y.ty.to_string(), name: y_t.clone() });
    }
    let (a_t, b_t) = (names.types[a].clone(), names.types[b].clone());
    let (a_a, b_a) = (names.arrays[a].clone(), names.arrays[b].clone());
    let (n_a, n_b) = (model.values[a].len(), model.values[b].len());
    let call = match &layer.op {
        LayerOp::Add { sum } => {
            if n_a != y.len() || n_b != y.len() {
                return Err(Error::Unsupported(format!(
                    "add layer '{}' adds {n_a} and {n_b} values into {}",
                    layer.name,
                    y.len()
                )));
            }
            let sum_t = format!("layer{k}_sum_t");
            typedefs.push(Typedef { ty: sum.to_string(), name: sum_t.clone() });
            KernelCall {
                kernel: "add",
                template_args: vec![a_t, b_t, sum_t, y_t.clone(), y.len().to_string()],
                args: vec![a_a, b_a, y_a.clone()],
            }
        }
        LayerOp::Concat => {
            if n_a + n_b != y.len() {
                return Err(Error::Unsupported(format!(
                    "concat layer '{}' joins {n_a} and {n_b} values into {}",
                    layer.name,
                    y.len()
                )));
            }
            KernelCall {
                kernel: "concat",
                template_args: vec![a_t, b_t, y_t.clone(), n_a.to_string(), n_b.to_string()],
                args: vec![a_a, b_a, y_a.clone()],
            }
        }
        _ => unreachable!("only joins come here"),
    };
    Ok(LayerView {
        index: k,
        kind: layer.op.kind(),
        name: comment(&layer.name),
        typedefs,
        arrays: Vec::new(),
        buffer: (!is_output).then(|| Buffer { ty: y_t.clone(), name: y_a.clone(), len: y.len() }),
        call,
    })
}

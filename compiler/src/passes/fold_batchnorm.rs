//! Inference-time BatchNorm, and a tensor times, over, plus or minus a constant, are a
//! per-channel affine map: after a linear layer it folds into that layer's weights and bias,
//! after another such map into that map, and before a dense layer into its weights and bias,
//! costing nothing in hardware. One that cannot fold becomes an affine layer.

use super::Pass;
use crate::ir::{BatchNorm, Conv, Dense, Graph, NodeId, Op};
use crate::Result;

pub struct FoldBatchNorm;

impl Pass for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "fold-batchnorm"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        // Until none folds: maps merged into one may then fold into the layer after them.
        while fold_once(graph) {
            changed = true;
        }
        Ok(changed)
    }
}

/// Models balerc trains put each BatchNorm right after its linear layer, where it folds as it
/// always has, so their float programs (which compressed files depend on bit for bit) do not
/// change with the folds added after them.
fn fold_once(graph: &mut Graph) -> bool {
    let mut changed = false;
    for id in graph.topological_order() {
        let Op::BatchNorm(bn) = graph.node(id).op.clone() else { continue };
        if !graph.node(id).declared.is_empty() {
            continue;
        }
        if fold_backward(graph, id, &bn) || fold_forward(graph, id, &bn) {
            graph.bypass(id);
            changed = true;
        }
    }
    changed
}

/// Into the layer before: a linear layer's weights and bias, or the map of a BatchNorm.
fn fold_backward(graph: &mut Graph, id: NodeId, bn: &BatchNorm) -> bool {
    let producer = graph.operand(id);
    // Weights on the grid of the model's own quantizer must stay on it.
    let declared = graph.node(producer).declared;
    if graph.consumers(producer).len() != 1 || declared.weight.is_some() || declared.bias.is_some() {
        return false;
    }
    match &mut graph.node_mut(producer).op {
        Op::Dense(d) if d.activation.is_none() => fold_into_dense(d, bn),
        Op::Conv(c) if c.activation.is_none() => fold_into_conv(c, bn),
        Op::BatchNorm(before) if declared.result.is_none() => match before.then(bn) {
            Some(both) => {
                *before = both;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Into the dense layer after it (across a Flatten or Reshape, which keep channels first),
/// whose inputs it scales and shifts one by one: `W (s x + t) + b = (W diag(s)) x + (W t + b)`.
/// (Not into a convolution: its zero padding would not be shifted.)
fn fold_forward(graph: &mut Graph, id: NodeId, bn: &BatchNorm) -> bool {
    let mut consumer = id;
    let dense = loop {
        let [next] = graph.consumers(consumer)[..] else { return false };
        consumer = next;
        match &graph.node(next).op {
            Op::Flatten { .. } | Op::Reshape { .. } => continue,
            Op::Dense(_) => break next,
            _ => return false,
        }
    };
    let declared = graph.node(dense).declared;
    if declared.weight.is_some() || declared.bias.is_some() {
        return false;
    }
    let Op::Dense(dense) = &mut graph.node_mut(dense).op else { return false };
    let (outputs, inputs, channels) = (dense.outputs(), dense.inputs(), bn.scale.len());
    if channels == 0 || !inputs.is_multiple_of(channels) {
        return false;
    }
    // Flattened channels first: input i belongs to channel i / (inputs / channels).
    let per_channel = inputs / channels;
    for j in 0..outputs {
        let row = &mut dense.weight.data[j * inputs..(j + 1) * inputs];
        for (i, w) in row.iter_mut().enumerate() {
            let c = i / per_channel;
            dense.bias[j] += *w * bn.shift[c];
            *w *= bn.scale[c];
        }
    }
    true
}

fn fold_into_dense(dense: &mut Dense, bn: &BatchNorm) -> bool {
    let (outputs, inputs) = (dense.outputs(), dense.inputs());
    let Some(bn) = bn.for_channels(outputs) else { return false };
    for j in 0..outputs {
        dense.weight.data[j * inputs..(j + 1) * inputs].iter_mut().for_each(|w| *w *= bn.scale[j]);
        dense.bias[j] = dense.bias[j] * bn.scale[j] + bn.shift[j];
    }
    true
}

fn fold_into_conv(conv: &mut Conv, bn: &BatchNorm) -> bool {
    let channels = conv.out_channels();
    let Some(bn) = bn.for_channels(channels) else { return false };
    let kernel: usize = conv.weight.shape[2..].iter().product();
    let (c_in_outer, c_out_inner) = if conv.transposed { (conv.weight.shape[0], channels) } else { (1, channels) };
    let per_out = conv.weight.len() / (c_in_outer * c_out_inner);
    // Conv weights are [out, in, k]: one contiguous block per output channel.
    // ConvTranspose weights are [in, out, k]: one block per (input, output) pair.
    for outer in 0..c_in_outer {
        for c in 0..c_out_inner {
            let start = (outer * c_out_inner + c) * per_out;
            conv.weight.data[start..start + per_out].iter_mut().for_each(|w| *w *= bn.scale[c]);
        }
    }
    debug_assert_eq!(per_out % kernel, 0);
    for c in 0..channels {
        conv.bias[c] = conv.bias[c] * bn.scale[c] + bn.shift[c];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ConvGeometry, Tensor};
    use crate::passes::test_graphs::*;
    use crate::passes::InferShapes;
    use crate::sim::float::run_float;

    fn bn(channels: usize) -> Op {
        Op::BatchNorm(BatchNorm {
            scale: (0..channels).map(|c| 0.5 + c as f64).collect(),
            shift: (0..channels).map(|c| c as f64 - 1.0).collect(),
        })
    }

    fn assert_same_function(mut g: crate::ir::Graph, input: &[f64]) {
        InferShapes.run(&mut g).unwrap();
        let before = run_float(&g, input, 1).unwrap();
        assert!(FoldBatchNorm.run(&mut g).unwrap());
        assert!(!kinds(&g).contains(&"batch_norm"));
        let after = run_float(&g, input, 1).unwrap();
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-12, "{a} != {b}");
        }
    }

    #[test]
    fn folds_into_dense_without_changing_the_function() {
        let (g, _) = chain(4, vec![dense(4, 3), bn(3)]);
        assert_same_function(g, &[0.3, -1.0, 2.0, 0.5]);
    }

    fn conv(transposed: bool) -> Op {
        let weight: Vec<f64> = (0..2 * 3 * 2 * 2).map(|i| (i as f64 * 0.7).cos()).collect();
        Op::Conv(Conv {
            transposed,
            weight: Tensor::new(vec![2, 3, 2, 2], weight),
            bias: vec![0.1; if transposed { 3 } else { 2 }],
            geometry: ConvGeometry {
                kernel: vec![2, 2],
                stride: vec![1, 1],
                dilation: vec![1, 1],
                padding: vec![(0, 0), (0, 0)],
                output_padding: vec![0, 0],
            },
            activation: None,
        })
    }

    #[test]
    fn folds_into_conv_and_conv_transpose() {
        let mut g = crate::ir::Graph::new("t");
        let x = g.add("x", Op::Input { shape: vec![3, 3, 3] });
        let c = g.add("c", conv(false));
        let b = g.add("b", bn(2));
        let y = g.add("y", Op::Output);
        g.connect(x, c, 0);
        g.connect(c, b, 0);
        g.connect(b, y, 0);
        let input: Vec<f64> = (0..27).map(|i| (i as f64).sin()).collect();
        assert_same_function(g, &input);

        let mut g = crate::ir::Graph::new("t");
        let x = g.add("x", Op::Input { shape: vec![2, 2, 2] });
        let c = g.add("c", conv(true));
        let b = g.add("b", bn(3));
        let y = g.add("y", Op::Output);
        g.connect(x, c, 0);
        g.connect(c, b, 0);
        g.connect(b, y, 0);
        let input: Vec<f64> = (0..8).map(|i| (i as f64).cos()).collect();
        assert_same_function(g, &input);
    }

    #[test]
    fn keeps_a_batchnorm_after_an_activation() {
        let (mut g, _) = chain(3, vec![relu(), bn(3)]);
        assert!(!FoldBatchNorm.run(&mut g).unwrap());
    }

    /// `(relu(x) * s + t - 0.25) / 4` before a dense layer: one map, then none at all.
    #[test]
    fn maps_after_an_activation_merge_and_fold_into_the_dense_layer_after() {
        let minus = Op::BatchNorm(BatchNorm { scale: vec![1.0], shift: vec![-0.25] });
        let over = Op::BatchNorm(BatchNorm { scale: vec![0.25], shift: vec![0.0] });
        let (g, _) = chain(4, vec![relu(), bn(4), minus, over, dense(4, 3)]);
        assert_same_function(g, &[0.3, -1.0, 2.0, 0.5]);
    }

    /// A per-channel map of [2, 3] before Flatten and a dense layer of 6 inputs.
    #[test]
    fn a_map_before_a_flatten_folds_into_the_dense_layer_after_it() {
        let (mut g, ids) = chain(6, vec![relu(), bn(2), Op::Flatten { axis: 1 }, dense(6, 3)]);
        g.node_mut(ids[0]).op = Op::Input { shape: vec![2, 3] };
        assert_same_function(g, &[0.3, -1.0, 2.0, 0.5, 1.5, -0.25]);
    }

    #[test]
    fn one_value_spreads_over_any_number_of_channels() {
        let one = BatchNorm { scale: vec![2.0], shift: vec![-1.0] };
        assert_eq!(one.for_channels(3), Some(BatchNorm { scale: vec![2.0; 3], shift: vec![-1.0; 3] }));
        let three = one.for_channels(3).unwrap();
        assert_eq!(three.for_channels(2), None);
        // 2 (2x - 1) + 1 = 4x - 1
        assert_eq!(one.then(&BatchNorm { scale: vec![2.0], shift: vec![1.0] }).unwrap().shift, vec![-1.0]);
    }
}

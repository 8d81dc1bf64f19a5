//! Gives every node its per-sample output shape and checks that operands fit.

use super::Pass;
use crate::ir::{Channelwise, Graph, NodeId, Op, Pool, PoolKind};
use crate::{Error, Result};

pub struct InferShapes;

impl Pass for InferShapes {
    fn name(&self) -> &'static str {
        "infer-shapes"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        for id in graph.topological_order() {
            resolve_with_operand_shape(graph, id);
            let shape = output_shape(graph, id)?;
            let node = graph.node_mut(id);
            changed |= node.shape != shape;
            node.shape = shape;
        }
        Ok(changed)
    }
}

/// The rewrites that wait for the operand's shape: a per-channel map of one value (a tensor
/// times or plus a single constant) gets one value per channel, as downstream layers index
/// it; a channel-wise window (a pool, an upsampling) becomes the convolution it is; a
/// transpose that only relabels becomes a reshape.
fn resolve_with_operand_shape(graph: &mut Graph, id: NodeId) {
    let operand = graph.operands(id).first().map(|&o| graph.node(o).shape.clone());
    let Some(channels) = operand.as_ref().and_then(|shape| shape.first().copied()) else { return };
    let spread = match &graph.node(id).op {
        Op::BatchNorm(b) if b.scale.len() == 1 => b.for_channels(channels).map(Op::BatchNorm),
        Op::Channelwise(c) if operand.as_ref().is_some_and(|s| s.len() == c.geometry.kernel.len() + 1) => {
            Some(Op::Conv(c.as_conv(channels)))
        }
        Op::Transpose { perm } => operand.as_deref().and_then(|shape| relabelling(shape, perm)),
        Op::Pool(pool) if operand.as_ref().is_some_and(|s| s.len() == pool.geometry.kernel.len() + 1) => {
            operand.as_deref().and_then(|shape| plain_pool(pool, shape))
        }
        _ => None,
    };
    if let Some(op) = spread {
        graph.node_mut(id).op = op;
    }
}

/// A pool with ceil_mode as the plain pool it is over an input of `shape` (per sample): a max
/// pool whose end padding reaches the last window (padding never wins), or an average pool
/// whose windows all count the kernel's size. None for an average over windows of differing
/// sizes, which stays.
fn plain_pool(pool: &Pool, shape: &[usize]) -> Option<Op> {
    let geometry = pool.floor_geometry(&shape[1..]).ok()?;
    match pool.kind {
        PoolKind::Max => Some(Op::MaxPool(geometry)),
        PoolKind::Average { .. } => match pool.border_average(shape) {
            Ok(None) => Some(Op::Conv(Channelwise::average_pool(geometry).as_conv(shape[0]))),
            _ => None,
        },
    }
}

/// A transpose of `shape` (per sample) by `perm` (batch axis first) as the reshape it is, when
/// it keeps the batch first and the axes longer than 1 in their order: then it moves no data.
fn relabelling(shape: &[usize], perm: &[usize]) -> Option<Op> {
    let extent = |axis: usize| if axis == 0 { None } else { shape.get(axis - 1).copied() };
    if perm.len() != shape.len() + 1 || perm.first() != Some(&0) || perm[1..].iter().any(|&a| extent(a).is_none()) {
        return None;
    }
    let moved: Vec<usize> = perm[1..].iter().copied().filter(|&a| extent(a) != Some(1)).collect();
    if !moved.is_sorted() {
        return None;
    }
    let target = perm[1..].iter().map(|&a| extent(a).expect("checked") as i64);
    Some(Op::Reshape { shape: std::iter::once(0).chain(target).collect() })
}

fn output_shape(graph: &Graph, id: NodeId) -> Result<Vec<usize>> {
    let node = graph.node(id);
    let operand_shapes: Vec<&Vec<usize>> = graph.operands(id).iter().map(|&o| &graph.node(o).shape).collect();
    let input = || operand_shapes[0].clone();
    let fail = |message: String| Err(Error::shape(&node.name, message));
    match &node.op {
        Op::Input { shape } => Ok(shape.clone()),
        Op::Constant(t) => Ok(t.shape.clone()),
        Op::Output | Op::Activation(_) | Op::Identity | Op::Dropout | Op::Quantize(_) => Ok(input()),
        Op::PRelu { slopes } => {
            let x = input();
            match x.first() {
                Some(&channels) if slopes.len() == channels => Ok(x),
                _ => fail(format!(
                    "a PReLU with {} slopes receives shape {x:?} (one slope per channel, axis 1)",
                    slopes.len()
                )),
            }
        }
        Op::Requantize(r) => {
            let x = input();
            match x.first() {
                Some(&channels) if r.mantissas.len() == channels || r.mantissas.len() == 1 => Ok(x),
                _ => fail(format!("a requantization with {} multipliers receives shape {x:?}", r.mantissas.len())),
            }
        }
        Op::Dense(d) => {
            let x = input();
            if x.len() != 1 || x[0] != d.inputs() {
                return fail(format!("a dense layer with {} inputs receives a tensor of shape {x:?}", d.inputs()));
            }
            Ok(vec![d.outputs()])
        }
        Op::Conv(c) => {
            let x = input();
            let dims = c.spatial_dims();
            if x.len() != dims + 1 || x[0] != c.in_channels() {
                return fail(format!(
                    "a {dims}-D convolution with {} input channels receives a tensor of shape {x:?}",
                    c.in_channels()
                ));
            }
            let extent = c.output_extent(&x[1..]).or_else(fail)?;
            Ok(std::iter::once(c.out_channels()).chain(extent).collect())
        }
        Op::Transpose { perm } => {
            fail(format!("a transpose by {perm:?} of shape {:?} moves data (only axes of extent 1 may move)", input()))
        }
        Op::Pad { pads } => fail(format!("a zero Pad of {pads:?} that no convolution or average pool follows")),
        Op::Channelwise(c) => {
            fail(format!("a {}-D window receives a tensor of shape {:?}", c.geometry.kernel.len(), input()))
        }
        Op::MaxPool(g) => {
            let x = input();
            if x.len() != g.kernel.len() + 1 {
                return fail(format!("a {}-D max pool receives a tensor of shape {x:?}", g.kernel.len()));
            }
            let extent = g.window_conv(x[0]).output_extent(&x[1..]).or_else(fail)?;
            Ok(std::iter::once(x[0]).chain(extent).collect())
        }
        Op::Pool(p) => {
            let x = input();
            if x.len() != p.geometry.kernel.len() + 1 {
                return fail(format!("a {}-D pool receives a tensor of shape {x:?}", p.geometry.kernel.len()));
            }
            let extent = p.output_extent(&x[1..]).or_else(fail)?;
            Ok(std::iter::once(x[0]).chain(extent).collect())
        }
        Op::BatchNorm(b) => {
            let x = input();
            if x.first() != Some(&b.scale.len()) {
                return fail(format!("batch normalization over {} channels receives shape {x:?}", b.scale.len()));
            }
            Ok(x)
        }
        Op::Reshape { shape } => reshape(&input(), shape).or_else(fail),
        Op::Flatten { axis } => {
            let x = input();
            // Axis 1 flattens each sample; a larger axis would fold sample extents into
            // the batch, which only makes sense when they are all 1.
            if *axis == 0 || x[..(*axis - 1).min(x.len())].iter().any(|&d| d != 1) {
                return fail(format!("flatten at axis {axis} of shape {x:?} would change the batch"));
            }
            Ok(vec![x.iter().product()])
        }
        Op::Add => {
            let (a, b) = (operand_shapes[0], operand_shapes[1]);
            if a != b {
                return fail(format!(
                    "an Add of tensors of shapes {a:?} and {b:?} (only tensors of one shape are added, no broadcasting)"
                ));
            }
            Ok(a.clone())
        }
        Op::Concat { axis } => concat(&operand_shapes, *axis).or_else(fail),
        Op::MatMul => fail("matrix product of two run-time tensors".into()),
    }
}

/// The shape of tensors joined along `axis` (the batch axis 0): the channel axis only, so
/// that each part's codes lie one after another, per sample, in the result.
fn concat(parts: &[&Vec<usize>], axis: usize) -> std::result::Result<Vec<usize>, String> {
    let shapes = || parts.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    if axis != 1 {
        return Err(format!(
            "a Concat of shapes {} along axis {axis} (only the channel axis, 1, is supported)",
            shapes()
        ));
    }
    let first = parts[0];
    if first.is_empty() || parts.iter().any(|s| s.len() != first.len() || s[1..] != first[1..]) {
        return Err(format!("a Concat of shapes {} that differ off the channel axis", shapes()));
    }
    let channels = parts.iter().map(|s| s[0]).sum();
    Ok(std::iter::once(channels).chain(first[1..].iter().copied()).collect())
}

/// Resolves an ONNX target shape whose first entry stands for the batch.
fn reshape(input: &[usize], target: &[i64]) -> std::result::Result<Vec<usize>, String> {
    let count: usize = input.iter().product();
    let Some((_, per_sample)) = target.split_first() else {
        return Err("reshape to a scalar".into());
    };
    let mut shape = Vec::with_capacity(per_sample.len());
    let mut hole = None;
    for (i, &d) in per_sample.iter().enumerate() {
        match d {
            -1 if hole.is_none() => {
                hole = Some(i);
                shape.push(1);
            }
            // 0 copies the extent at the same position of the input (batch excluded).
            0 => shape.push(*input.get(i).ok_or("reshape copies an extent the input does not have")?),
            d if d > 0 => shape.push(d as usize),
            _ => return Err(format!("reshape target {target:?} is not valid")),
        }
    }
    let known: usize = shape.iter().product();
    if let Some(i) = hole {
        if known == 0 || !count.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        shape[i] = count / known;
    }
    if shape.iter().product::<usize>() != count {
        return Err(format!("cannot reshape {input:?} ({count} values per sample) to {target:?}"));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transpose_that_moves_only_axes_of_extent_1_is_a_reshape() {
        assert_eq!(relabelling(&[6, 1], &[0, 2, 1]), Some(Op::Reshape { shape: vec![0, 1, 6] }));
        assert_eq!(relabelling(&[2, 1, 3], &[0, 2, 1, 3]), Some(Op::Reshape { shape: vec![0, 1, 2, 3] }));
        assert_eq!(relabelling(&[2, 3], &[0, 2, 1]), None, "it moves data");
        assert_eq!(relabelling(&[2, 3], &[1, 0, 2]), None, "it moves the batch");
    }
    use crate::passes::test_graphs::*;

    #[test]
    fn infers_dense_and_reshape_shapes() {
        let (mut g, ids) =
            chain(16, vec![dense(16, 32), Op::Reshape { shape: vec![-1, 2, 4, 4] }, Op::Flatten { axis: 1 }]);
        InferShapes.run(&mut g).unwrap();
        let shapes: Vec<_> = ids.iter().map(|&n| g.node(n).shape.clone()).collect();
        assert_eq!(shapes, vec![vec![16], vec![32], vec![2, 4, 4], vec![32], vec![32]]);
    }

    #[test]
    fn an_add_of_two_shapes_is_refused_by_node_name() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), Op::Add]);
        g.connect(ids[0], ids[2], 1);
        let err = InferShapes.run(&mut g).unwrap_err().to_string();
        assert!(err.contains("'n1'") && err.contains("an Add of tensors of shapes [3] and [4]"), "{err}");
    }

    #[test]
    fn reports_a_mismatch_by_node_name() {
        let (mut g, _) = chain(16, vec![dense(15, 4)]);
        let err = InferShapes.run(&mut g).unwrap_err().to_string();
        assert!(err.contains("'n0'") && err.contains("15 inputs"), "{err}");
    }

    #[test]
    fn joins_along_the_channel_axis_only() {
        assert_eq!(concat(&[&vec![2, 4, 4], &vec![3, 4, 4]], 1).unwrap(), vec![5, 4, 4]);
        assert_eq!(concat(&[&vec![6], &vec![2], &vec![1]], 1).unwrap(), vec![9]);
        assert!(concat(&[&vec![2, 4, 4], &vec![2, 4, 5]], 1).unwrap_err().contains("differ off the channel axis"));
        assert!(concat(&[&vec![2, 4], &vec![2, 4]], 2).unwrap_err().contains("along axis 2"));
    }

    #[test]
    fn resolves_reshape_targets() {
        assert_eq!(reshape(&[32], &[-1, 2, 4, 4]).unwrap(), vec![2, 4, 4]);
        assert_eq!(reshape(&[8, 4], &[1, 0, -1]).unwrap(), vec![8, 4]);
        assert_eq!(reshape(&[5], &[0, 5, 1]).unwrap(), vec![5, 1]);
        assert!(reshape(&[32], &[-1, 3, -1]).is_err());
        assert!(reshape(&[32], &[-1, 5, 7]).is_err());
    }
}

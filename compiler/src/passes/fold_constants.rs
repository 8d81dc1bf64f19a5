//! Evaluates what is known before run time: reshapes of constants, sums of constants,
//! and a constant added after a linear layer (MatMul + Add as burn and others export
//! it), which becomes that layer's bias.

use super::Pass;
use crate::ir::{Graph, NodeId, Op, Tensor};
use crate::Result;

pub struct FoldConstants;

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "fold-constants"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        for id in graph.topological_order() {
            changed |= fold_reshape(graph, id) || fold_add(graph, id);
        }
        Ok(changed)
    }
}

fn constant(graph: &Graph, id: NodeId) -> Option<&Tensor> {
    match &graph.node(id).op {
        Op::Constant(t) => Some(t),
        _ => None,
    }
}

/// A reshape or flatten of a constant is the same data under another shape; the
/// consumers read it flat, so only the element count matters.
fn fold_reshape(graph: &mut Graph, id: NodeId) -> bool {
    if !matches!(graph.node(id).op, Op::Reshape { .. } | Op::Flatten { .. }) {
        return false;
    }
    let Some(tensor) = constant(graph, graph.operand(id)).cloned() else {
        return false;
    };
    let tensor = Tensor::new(vec![tensor.len()], tensor.data);
    graph.node_mut(id).op = Op::Constant(tensor);
    for edge in graph
        .nodes
        .edges_directed(id, petgraph::Direction::Incoming)
        .map(|e| petgraph::visit::EdgeRef::id(&e))
        .collect::<Vec<_>>()
    {
        graph.nodes.remove_edge(edge);
    }
    true
}

fn fold_add(graph: &mut Graph, id: NodeId) -> bool {
    if graph.node(id).op != Op::Add {
        return false;
    }
    let operands = graph.operands(id);
    let [a, b] = operands[..] else { return false };
    match (constant(graph, a).cloned(), constant(graph, b).cloned()) {
        (Some(x), Some(y)) if x.shape == y.shape => {
            let sum = x.data.iter().zip(&y.data).map(|(p, q)| p + q).collect();
            let folded = graph.add(graph.node(id).name.clone(), Op::Constant(Tensor::new(x.shape, sum)));
            graph.replace_uses(id, folded);
            true
        }
        (None, Some(c)) => absorb_into_bias(graph, id, a, &c),
        (Some(c), None) => absorb_into_bias(graph, id, b, &c),
        _ => false,
    }
}

/// `linear + c` becomes the linear layer with bias + c when c holds one value per
/// output (or per output channel) and nobody else reads the layer's output.
fn absorb_into_bias(graph: &mut Graph, add: NodeId, linear: NodeId, c: &Tensor) -> bool {
    if graph.consumers(linear).len() != 1 {
        return false;
    }
    let bias = match &mut graph.node_mut(linear).op {
        Op::Dense(d) if d.activation.is_none() => &mut d.bias,
        Op::Conv(conv) if conv.activation.is_none() => &mut conv.bias,
        _ => return false,
    };
    // Per-output constants: [n], [1, n], or per-channel [c, 1, 1] with any leading 1s.
    let significant: Vec<_> = c.shape.iter().filter(|&&d| d != 1).collect();
    let per_output = c.len() == bias.len() && significant.len() <= 1;
    if !per_output && c.len() != 1 {
        return false;
    }
    for (j, b) in bias.iter_mut().enumerate() {
        *b += c.data[if c.len() == 1 { 0 } else { j }];
    }
    graph.replace_uses(add, linear);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_graphs::*;

    #[test]
    fn a_constant_added_after_dense_becomes_its_bias() {
        let (mut g, ids) = chain(4, vec![dense(4, 3)]);
        let c = g.add("c", Op::Constant(Tensor::new(vec![3], vec![1.0, 2.0, 3.0])));
        let add = g.add("add", Op::Add);
        let out = *ids.last().unwrap();
        let edge = g.nodes.find_edge(ids[1], out).unwrap();
        g.nodes.remove_edge(edge);
        g.connect(ids[1], add, 0);
        g.connect(c, add, 1);
        g.connect(add, out, 0);
        assert!(FoldConstants.run(&mut g).unwrap());
        crate::passes::RemoveDeadNodes.run(&mut g).unwrap();
        assert_eq!(kinds(&g), ["input", "dense", "output"]);
        let Op::Dense(d) = &g.node(ids[1]).op else { panic!() };
        assert_eq!(d.bias, vec![1.0, 2.1, 3.2]);
    }

    #[test]
    fn leaves_an_add_of_two_run_time_tensors_alone() {
        let (mut g, ids) = chain(3, vec![relu()]);
        let add = g.add("add", Op::Add);
        g.connect(ids[0], add, 0);
        g.connect(ids[1], add, 1);
        assert!(!FoldConstants.run(&mut g).unwrap());
    }

    #[test]
    fn a_reshaped_constant_is_a_constant() {
        let mut g = Graph::new("t");
        let c = g.add("c", Op::Constant(Tensor::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])));
        let r = g.add("r", Op::Flatten { axis: 0 });
        g.connect(c, r, 0);
        assert!(FoldConstants.run(&mut g).unwrap());
        assert_eq!(g.node(r).op, Op::Constant(Tensor::new(vec![4], vec![1.0, 2.0, 3.0, 4.0])));
    }
}

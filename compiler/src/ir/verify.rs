//! The IR's invariants, checked after every pass: a pass that breaks one is caught where it
//! does, not layers later as a wrong number.

use super::{Graph, NodeId, Op};
use crate::{Error, Result};
use petgraph::Direction;

/// How many operands a node of this kind reads; `present` is how many it has, which a
/// concatenation of two or more takes as its own.
fn arity(op: &Op, present: usize) -> usize {
    match op {
        Op::Input { .. } | Op::Constant(_) => 0,
        Op::Add | Op::MatMul => 2,
        Op::Concat { .. } => present.max(2),
        _ => 1,
    }
}

/// Checks that every operand slot of a live node (one an output depends on; passes may leave
/// dead nodes for `remove-dead-nodes`) has exactly one producer, no graph output is read, the
/// graph has no cycle, shape-preserving nodes keep their operand's shape once shapes are
/// known, and only linear layers declare weight or bias types.
pub fn verify(graph: &Graph, after: &str) -> Result<()> {
    if petgraph::algo::is_cyclic_directed(&graph.nodes) {
        return Err(Error::Other(format!("internal error after {after}: the dataflow graph has a cycle")));
    }
    let broken = |node: NodeId, what: String| {
        Error::Other(format!("internal error after {after}: node '{}': {what}", graph.node(node).name))
    };
    for id in live_nodes(graph) {
        let node = graph.node(id);
        let mut slots: Vec<usize> =
            graph.nodes.edges_directed(id, Direction::Incoming).map(|e| e.weight().slot).collect();
        slots.sort_unstable();
        let expected: Vec<usize> = (0..arity(&node.op, slots.len())).collect();
        if slots != expected {
            return Err(broken(
                id,
                format!("a {} node has operand slots {slots:?}, expected {expected:?}", node.op.kind()),
            ));
        }
        if matches!(node.op, Op::Output) && graph.nodes.edges_directed(id, Direction::Outgoing).next().is_some() {
            return Err(broken(id, "a graph output is read by another node".into()));
        }
        let keeps_shape = matches!(
            node.op,
            Op::Add
                | Op::Activation(_)
                | Op::PRelu { .. }
                | Op::Quantize(_)
                | Op::Requantize(_)
                | Op::Identity
                | Op::Dropout
                | Op::Output
        );
        if keeps_shape {
            for operand in graph.operands(id).into_iter().map(|o| graph.node(o)) {
                if !node.shape.is_empty() && !operand.shape.is_empty() && node.shape != operand.shape {
                    return Err(broken(
                        id,
                        format!("shape {:?} differs from its operand's {:?}", node.shape, operand.shape),
                    ));
                }
            }
        }
        let declares_constants = node.declared.weight.is_some() || node.declared.bias.is_some();
        if declares_constants && !node.op.is_linear() {
            return Err(broken(id, format!("a {} node declares weight or bias types", node.op.kind())));
        }
    }
    Ok(())
}

/// The nodes some graph output depends on.
fn live_nodes(graph: &Graph) -> Vec<NodeId> {
    let mut live = std::collections::HashSet::new();
    let mut pending: Vec<NodeId> =
        graph.nodes.node_indices().filter(|&n| matches!(graph.node(n).op, Op::Output)).collect();
    while let Some(id) = pending.pop() {
        if live.insert(id) {
            pending.extend(graph.nodes.neighbors_directed(id, Direction::Incoming));
        }
    }
    let mut live: Vec<NodeId> = live.into_iter().collect();
    live.sort_unstable();
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_graphs::*;

    #[test]
    fn a_well_formed_chain_passes() {
        let (g, _) = chain(4, vec![dense(4, 3), relu()]);
        verify(&g, "test").unwrap();
    }

    #[test]
    fn a_missing_operand_and_a_second_producer_are_caught() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), relu()]);
        let edge = g.nodes.find_edge(ids[1], ids[2]).unwrap();
        g.nodes.remove_edge(edge);
        let err = verify(&g, "test").unwrap_err().to_string();
        assert!(err.contains("node 'n1'") && err.contains("slots []"), "{err}");
        g.connect(ids[1], ids[2], 0);
        g.connect(ids[0], ids[2], 0);
        let err = verify(&g, "test").unwrap_err().to_string();
        assert!(err.contains("slots [0, 0]"), "{err}");
    }

    #[test]
    fn an_add_with_one_operand_and_a_concat_with_a_gap_are_caught() {
        let (mut g, ids) = chain(4, vec![relu(), Op::Add]);
        let err = verify(&g, "test").unwrap_err().to_string();
        assert!(err.contains("node 'n1'") && err.contains("expected [0, 1]"), "{err}");
        g.connect(ids[0], ids[2], 1);
        verify(&g, "test").unwrap();
        let concat = g.add("cat", Op::Concat { axis: 1 });
        g.connect(ids[0], concat, 0);
        g.connect(ids[1], concat, 2);
        let out = g.add("y2", Op::Output);
        g.connect(concat, out, 0);
        let err = verify(&g, "test").unwrap_err().to_string();
        assert!(err.contains("node 'cat'") && err.contains("slots [0, 2]"), "{err}");
    }

    #[test]
    fn an_add_of_two_shapes_is_caught() {
        let (mut g, ids) = chain(4, vec![relu(), Op::Add]);
        g.connect(ids[0], ids[2], 1);
        for (&id, shape) in ids.iter().zip([vec![4], vec![4], vec![4], vec![4]]) {
            g.node_mut(id).shape = shape;
        }
        verify(&g, "test").unwrap();
        g.node_mut(ids[0]).shape = vec![2, 2];
        assert!(verify(&g, "test").unwrap_err().to_string().contains("differs from its operand's"));
    }

    #[test]
    fn a_changed_shape_through_an_activation_is_caught() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), relu()]);
        g.node_mut(ids[1]).shape = vec![3];
        g.node_mut(ids[2]).shape = vec![4];
        assert!(verify(&g, "test").unwrap_err().to_string().contains("differs from its operand's"));
    }
}

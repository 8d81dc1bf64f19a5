//! Drops nodes that no graph output depends on (unused constants, the other half of a
//! split autoencoder).

use super::Pass;
use crate::ir::{Graph, Op};
use crate::Result;
use petgraph::Direction;

pub struct RemoveDeadNodes;

impl Pass for RemoveDeadNodes {
    fn name(&self) -> &'static str {
        "remove-dead-nodes"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut live = std::collections::HashSet::new();
        let mut stack = graph.outputs();
        while let Some(n) = stack.pop() {
            if live.insert(n) {
                stack.extend(graph.nodes.neighbors_directed(n, Direction::Incoming));
            }
        }
        // Graph inputs stay: they are part of the model's interface.
        let dead: Vec<_> = graph
            .nodes
            .node_indices()
            .filter(|n| !live.contains(n) && !matches!(graph.node(*n).op, Op::Input { .. }))
            .collect();
        for &n in &dead {
            graph.nodes.remove_node(n);
        }
        Ok(!dead.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Tensor;
    use crate::passes::test_graphs::*;

    #[test]
    fn removes_unused_constants_and_branches() {
        let (mut g, ids) = chain(4, vec![dense(4, 3)]);
        g.add("unused", Op::Constant(Tensor::zeros(vec![2])));
        let branch = g.add("branch", relu());
        g.connect(ids[1], branch, 0);
        assert!(RemoveDeadNodes.run(&mut g).unwrap());
        assert_eq!(kinds(&g), ["input", "dense", "output"]);
        assert!(!RemoveDeadNodes.run(&mut g).unwrap());
    }
}

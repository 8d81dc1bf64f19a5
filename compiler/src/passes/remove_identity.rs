//! Identity and Dropout compute nothing at inference time.

use super::Pass;
use crate::ir::{Graph, Op};
use crate::Result;

pub struct RemoveIdentity;

impl Pass for RemoveIdentity {
    fn name(&self) -> &'static str {
        "remove-identity"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let doomed: Vec<_> =
            graph.nodes.node_indices().filter(|&n| matches!(graph.node(n).op, Op::Identity | Op::Dropout)).collect();
        for &n in &doomed {
            graph.bypass(n);
        }
        Ok(!doomed.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_graphs::*;

    #[test]
    fn removes_identity_and_dropout_and_keeps_the_rest() {
        let (mut g, _) = chain(4, vec![Op::Identity, dense(4, 3), Op::Dropout, relu()]);
        assert!(RemoveIdentity.run(&mut g).unwrap());
        assert_eq!(kinds(&g), ["input", "dense", "activation", "output"]);
        assert!(!RemoveIdentity.run(&mut g).unwrap());
    }
}

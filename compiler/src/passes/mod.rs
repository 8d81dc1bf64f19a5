//! Graph-to-graph passes, one job each, run by name in a fixed pipeline.

mod dead_nodes;
mod fold_batchnorm;
mod fold_constants;
mod fold_pad;
mod fold_quantize;
mod fuse_activation;
mod infer_shapes;
mod remove_identity;
mod split;

pub use dead_nodes::RemoveDeadNodes;
pub use fold_batchnorm::FoldBatchNorm;
pub use fold_constants::FoldConstants;
pub use fold_pad::FoldPad;
pub use fold_quantize::FoldQuantize;
pub use fuse_activation::FuseActivation;
pub use infer_shapes::InferShapes;
pub use remove_identity::RemoveIdentity;
pub use split::{Part, SplitAtBottleneck};

use crate::ir::Graph;
use crate::Result;

pub trait Pass {
    fn name(&self) -> &'static str;
    /// Rewrites the graph; returns whether anything changed.
    fn run(&self, graph: &mut Graph) -> Result<bool>;
}

/// The standard lowering pipeline, from an imported graph to one ready to quantize.
pub fn standard_pipeline(part: Part) -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(RemoveIdentity),
        Box::new(FoldConstants),
        Box::new(FoldPad),
        Box::new(FoldBatchNorm),
        Box::new(FuseActivation),
        Box::new(FoldQuantize),
        Box::new(RemoveDeadNodes),
        Box::new(InferShapes),
        Box::new(SplitAtBottleneck { part }),
        Box::new(RemoveDeadNodes),
        Box::new(InferShapes),
    ]
}

/// Runs the passes in order, checking the IR's invariants before the first and after each
/// (the check is linear in the graph's size, small beside any pass).
pub fn run_pipeline(graph: &mut Graph, passes: &[Box<dyn Pass>]) -> Result<()> {
    crate::ir::verify(graph, "import")?;
    for pass in passes {
        pass.run(graph)?;
        crate::ir::verify(graph, pass.name())?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_graphs {
    //! Small hand-made graphs for the pass tests.
    use crate::ir::{Activation, Dense, Graph, NodeId, Op, Tensor};

    pub fn dense(inputs: usize, outputs: usize) -> Op {
        let weight: Vec<f64> = (0..inputs * outputs).map(|i| (i as f64 * 0.37).sin()).collect();
        Op::Dense(Dense {
            weight: Tensor::new(vec![outputs, inputs], weight),
            bias: (0..outputs).map(|j| j as f64 * 0.1).collect(),
            activation: None,
        })
    }

    /// A chain input -> ops... -> output; returns the graph and the node ids in order.
    pub fn chain(input: usize, ops: Vec<Op>) -> (Graph, Vec<NodeId>) {
        let mut g = Graph::new("test");
        let mut ids = vec![g.add("x", Op::Input { shape: vec![input] })];
        for (i, op) in ops.into_iter().enumerate() {
            let id = g.add(format!("n{i}"), op);
            g.connect(*ids.last().unwrap(), id, 0);
            ids.push(id);
        }
        let out = g.add("y", Op::Output);
        g.connect(*ids.last().unwrap(), out, 0);
        ids.push(out);
        (g, ids)
    }

    pub fn relu() -> Op {
        Op::Activation(Activation::Relu)
    }

    /// The op kinds along a chain from the input, for compact assertions.
    pub fn kinds(g: &Graph) -> Vec<&'static str> {
        g.topological_order().iter().map(|&n| g.node(n).op.kind()).collect()
    }
}

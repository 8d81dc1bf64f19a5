//! The dataflow IR: a petgraph of single-output tensor operators with static
//! per-sample shapes. Edges run from producer to consumer and carry the operand slot.

mod code_scales;
mod declared;
mod display;
mod op;
mod requantize;
mod taps;
mod tensor;
mod verify;

pub use code_scales::CodeScales;
pub use declared::Declared;
pub use op::{Activation, BatchNorm, Channelwise, Conv, ConvGeometry, Dense, Op, Pool, PoolKind};
pub use requantize::{Requantize, MANTISSA_BITS};
pub use taps::Taps;
pub use tensor::Tensor;
pub use verify::verify;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

pub type NodeId = NodeIndex;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name in the source model (the original ONNX name), used in every
    /// message, report and precision configuration.
    pub name: String,
    pub op: Op,
    /// Per-sample output shape; empty until shape inference has run.
    pub shape: Vec<usize>,
    /// The types the model's own quantization nodes give this node's tensors.
    pub declared: Declared,
}

/// Operand slot `slot` of the consumer is fed by the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operand {
    pub slot: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub name: String,
    pub nodes: StableDiGraph<Node, Operand>,
    /// Set where the input or output travels as integer codes of a non-power-of-two scale.
    pub scales: CodeScales,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph { name: name.into(), nodes: StableDiGraph::new(), scales: CodeScales::default() }
    }

    pub fn add(&mut self, name: impl Into<String>, op: Op) -> NodeId {
        self.nodes.add_node(Node { name: name.into(), op, shape: Vec::new(), declared: Declared::default() })
    }

    pub fn connect(&mut self, producer: NodeId, consumer: NodeId, slot: usize) {
        self.nodes.add_edge(producer, consumer, Operand { slot });
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id]
    }

    /// The producers of a node's operands, in slot order.
    pub fn operands(&self, id: NodeId) -> Vec<NodeId> {
        let mut edges: Vec<_> =
            self.nodes.edges_directed(id, Direction::Incoming).map(|e| (e.weight().slot, e.source())).collect();
        edges.sort_unstable_by_key(|&(slot, _)| slot);
        edges.into_iter().map(|(_, source)| source).collect()
    }

    /// The one operand of a unary node.
    pub fn operand(&self, id: NodeId) -> NodeId {
        self.operands(id)[0]
    }

    pub fn consumers(&self, id: NodeId) -> Vec<NodeId> {
        let mut consumers: Vec<_> = self.nodes.neighbors_directed(id, Direction::Outgoing).collect();
        consumers.sort_unstable();
        consumers.dedup();
        consumers
    }

    /// Nodes in a deterministic topological order (ties broken by insertion order).
    pub fn topological_order(&self) -> Vec<NodeId> {
        let mut pending: std::collections::BTreeMap<NodeId, usize> =
            self.nodes.node_indices().map(|n| (n, self.nodes.edges_directed(n, Direction::Incoming).count())).collect();
        let mut ready: std::collections::BTreeSet<NodeId> =
            pending.iter().filter(|(_, &d)| d == 0).map(|(&n, _)| n).collect();
        let mut order = Vec::with_capacity(pending.len());
        while let Some(n) = ready.pop_first() {
            order.push(n);
            for e in self.nodes.edges_directed(n, Direction::Outgoing) {
                let d = pending.get_mut(&e.target()).expect("edge to a known node");
                *d -= 1;
                if *d == 0 {
                    ready.insert(e.target());
                }
            }
        }
        assert_eq!(order.len(), self.nodes.node_count(), "the dataflow graph has a cycle");
        order
    }

    pub fn inputs(&self) -> Vec<NodeId> {
        self.topological_order().into_iter().filter(|&n| matches!(self.nodes[n].op, Op::Input { .. })).collect()
    }

    pub fn outputs(&self) -> Vec<NodeId> {
        self.topological_order().into_iter().filter(|&n| matches!(self.nodes[n].op, Op::Output)).collect()
    }

    /// Replaces every use of `old` by `new` and removes `old`.
    pub fn replace_uses(&mut self, old: NodeId, new: NodeId) {
        let uses: Vec<_> =
            self.nodes.edges_directed(old, Direction::Outgoing).map(|e| (e.target(), *e.weight())).collect();
        for (target, operand) in uses {
            self.nodes.add_edge(new, target, operand);
        }
        self.nodes.remove_node(old);
    }

    /// Removes a unary node, wiring its operand straight to its consumers.
    pub fn bypass(&mut self, id: NodeId) {
        let source = self.operand(id);
        self.replace_uses(id, source);
    }

    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.node_indices().find(|&n| self.nodes[n].name == name)
    }
}

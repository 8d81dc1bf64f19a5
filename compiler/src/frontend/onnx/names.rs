//! onnx-ir renames every node (`linear1`, `relu2`, ...). Messages, reports and precision
//! files must speak of the names the user's exporter wrote, so each onnx-ir node is
//! matched to its original node. onnx-ir keeps the original node order and, with
//! simplification off, only lifts constants and fuses Gemm or MatMul+Add into Linear,
//! so a single forward walk pairs them up.

use onnx_ir::{Node, NodeProto, NodeType};

/// The original name, operator type and domain of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalNode {
    pub name: String,
    pub op_type: String,
    /// The operator set's domain; empty for the standard `ai.onnx` one.
    pub domain: String,
}

impl OriginalNode {
    /// The operator as messages name it: `Softmax`, or `Quant (domain qonnx.custom_op.general)`
    /// when it comes from another operator set.
    pub fn qualified_op_type(&self) -> String {
        if self.domain.is_empty() || self.domain == "ai.onnx" {
            self.op_type.clone()
        } else {
            format!("{} (domain {})", self.op_type, self.domain)
        }
    }
}

/// The name of the `index`-th node of a graph: its own, or a made-up one when it has none.
pub fn original_name(index: usize, node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!("{}_{index}", node.op_type)
    } else {
        node.name.clone()
    }
}

pub struct NameMatcher {
    raw: Vec<OriginalNode>,
    next: usize,
}

impl NameMatcher {
    pub fn new(nodes: &[NodeProto]) -> Self {
        let raw = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| OriginalNode {
                name: original_name(i, n),
                op_type: n.op_type.clone(),
                domain: n.domain.clone(),
            })
            .collect();
        NameMatcher { raw, next: 0 }
    }

    /// The original node behind the next onnx-ir node, or a made-up one when the
    /// node was created by onnx-ir itself (a lifted constant, for instance).
    pub fn original(&mut self, node: &Node) -> OriginalNode {
        let node_type = node.node_type();
        if node_type == NodeType::Constant {
            // Constants are lifted from initializers as often as from Constant nodes;
            // they never appear in messages, so they keep onnx-ir's name.
            return OriginalNode {
                name: node.name().to_string(),
                op_type: "Constant".to_string(),
                domain: String::new(),
            };
        }
        let accepted = original_op_types(&node_type);
        // An operator onnx-ir does not know keeps its raw type and domain.
        let (spelled, domain) = match node {
            Node::Custom(custom) => (custom.op_type.clone(), Some(custom.domain.as_str())),
            _ => (node_type.to_string(), None),
        };
        let matches = |raw: &OriginalNode| {
            let same_type = accepted.iter().any(|&op| op == raw.op_type) || raw.op_type.eq_ignore_ascii_case(&spelled);
            same_type && domain.is_none_or(|d| d == raw.domain)
        };
        if let Some(offset) = self.raw[self.next..].iter().position(matches) {
            self.next += offset + 1;
            return self.raw[self.next - 1].clone();
        }
        OriginalNode { name: node.name().to_string(), op_type: spelled, domain: domain.unwrap_or_default().to_string() }
    }
}

/// The ONNX operator types an onnx-ir node type can stem from, where the names differ.
fn original_op_types(node_type: &NodeType) -> Vec<&'static str> {
    match node_type {
        NodeType::Linear => vec!["Gemm", "MatMul"],
        NodeType::Conv1d | NodeType::Conv2d | NodeType::Conv3d => vec!["Conv"],
        NodeType::ConvTranspose1d | NodeType::ConvTranspose2d | NodeType::ConvTranspose3d => vec!["ConvTranspose"],
        NodeType::MaxPool1d | NodeType::MaxPool2d => vec!["MaxPool"],
        NodeType::AveragePool1d | NodeType::AveragePool2d => vec!["AveragePool"],
        // Every other node type is spelled as its ONNX operator.
        _ => vec![],
    }
}

//! Cuts an autoencoder into its encoder and decoder at the bottleneck: the narrowest
//! tensor of the chain of layers (with the elementwise ops that directly follow it).

use super::Pass;
use crate::ir::{Graph, NodeId, Op};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    #[default]
    Full,
    Encoder,
    Decoder,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Full => "full",
            Part::Encoder => "encoder",
            Part::Decoder => "decoder",
        }
    }
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Part::Full),
            "encoder" => Ok(Part::Encoder),
            "decoder" => Ok(Part::Decoder),
            _ => Err(format!("unknown part '{s}' (expected full, encoder or decoder)")),
        }
    }
}

pub struct SplitAtBottleneck {
    pub part: Part,
}

/// The name of the tensor between encoder and decoder, in both halves.
pub const LATENT: &str = "latent";

impl Pass for SplitAtBottleneck {
    fn name(&self) -> &'static str {
        "split-at-bottleneck"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        if self.part == Part::Full {
            return Ok(false);
        }
        if !graph.scales.is_empty() {
            // The cut tensor would need a code scale of its own at the new edge.
            return Err(Error::Other(format!(
                "the {} of this model travels as integer codes of a quantizer whose scale is no power of two; lower it whole (--part full)",
                if graph.scales.input.is_some() { "input" } else { "output" }
            )));
        }
        let chain = chain_of_layers(graph)?;
        let cut = bottleneck(graph, &chain);
        let after = chain[chain.iter().position(|&n| n == cut).expect("cut is on the chain") + 1];
        let edge = graph.nodes.find_edge(cut, after).expect("chain nodes are connected");
        graph.nodes.remove_edge(edge);
        match self.part {
            Part::Encoder => {
                let output = graph.add(LATENT, Op::Output);
                graph.connect(cut, output, 0);
                graph.nodes.remove_node(*chain.last().expect("chain ends in the output"));
            }
            Part::Decoder => {
                let shape = graph.node(cut).shape.clone();
                let input = graph.add(LATENT, Op::Input { shape: shape.clone() });
                graph.node_mut(input).shape = shape;
                // The latent tensor keeps the type the model declares for it.
                graph.node_mut(input).declared.result = graph.node(cut).declared.result;
                graph.connect(input, after, 0);
                graph.nodes.remove_node(chain[0]);
            }
            Part::Full => unreachable!(),
        }
        Ok(true)
    }
}

/// The nodes from the single input to the single output, if the graph is a chain.
fn chain_of_layers(graph: &Graph) -> Result<Vec<NodeId>> {
    let (inputs, outputs) = (graph.inputs(), graph.outputs());
    if inputs.len() != 1 || outputs.len() != 1 {
        return Err(Error::Other(format!(
            "splitting needs one input and one output; the model has {} and {}",
            inputs.len(),
            outputs.len()
        )));
    }
    let mut chain = vec![inputs[0]];
    while let Some(&last) = chain.last().filter(|&&n| n != outputs[0]) {
        let consumers = graph.consumers(last);
        if consumers.len() != 1 {
            return Err(Error::Other(format!(
                "splitting needs a chain of layers, but node '{}' feeds {} nodes",
                graph.node(last).name,
                consumers.len()
            )));
        }
        chain.push(consumers[0]);
    }
    if chain.len() < 4 {
        return Err(Error::Other("the model is too short to split into encoder and decoder".into()));
    }
    Ok(chain)
}

/// The last node of the first run of narrowest tensors, not counting the model's own
/// input and output.
fn bottleneck(graph: &Graph, chain: &[NodeId]) -> NodeId {
    let size = |n: NodeId| graph.node(n).shape.iter().product::<usize>();
    let inner = &chain[1..chain.len() - 2];
    let narrowest = inner.iter().map(|&n| size(n)).min().expect("chain has inner nodes");
    let first = inner.iter().position(|&n| size(n) == narrowest).expect("minimum exists");
    let run = inner[first..].iter().take_while(|&&n| size(n) == narrowest).count();
    inner[first + run - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::test_graphs::*;
    use crate::passes::{InferShapes, RemoveDeadNodes};

    fn autoencoder() -> Graph {
        let (mut g, _) = chain(16, vec![dense(16, 8), relu(), dense(8, 3), relu(), dense(3, 8), dense(8, 16)]);
        InferShapes.run(&mut g).unwrap();
        g
    }

    fn split(part: Part) -> Graph {
        let mut g = autoencoder();
        SplitAtBottleneck { part }.run(&mut g).unwrap();
        RemoveDeadNodes.run(&mut g).unwrap();
        InferShapes.run(&mut g).unwrap();
        g
    }

    #[test]
    fn encoder_ends_after_the_activation_of_the_narrowest_layer() {
        let g = split(Part::Encoder);
        assert_eq!(kinds(&g), ["input", "dense", "activation", "dense", "activation", "output"]);
        assert_eq!(g.node(g.outputs()[0]).shape, vec![3]);
    }

    #[test]
    fn decoder_starts_from_a_latent_input() {
        let g = split(Part::Decoder);
        assert_eq!(kinds(&g), ["input", "dense", "dense", "output"]);
        let input = g.inputs()[0];
        assert_eq!((g.node(input).name.as_str(), g.node(input).shape.clone()), (LATENT, vec![3]));
    }

    #[test]
    fn full_leaves_the_graph_alone() {
        let mut g = autoencoder();
        assert!(!SplitAtBottleneck { part: Part::Full }.run(&mut g).unwrap());
    }
}

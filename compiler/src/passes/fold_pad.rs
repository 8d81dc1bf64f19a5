//! A zero Pad before a convolution or an average pool is that window's own padding: the
//! window reads the same zeros, and no tensor of the padded size is ever made.

use super::Pass;
use crate::ir::{Graph, Op};
use crate::Result;

pub struct FoldPad;

impl Pass for FoldPad {
    fn name(&self) -> &'static str {
        "fold-pad"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        for id in graph.topological_order() {
            let Op::Pad { pads } = graph.node(id).op.clone() else { continue };
            let [consumer] = graph.consumers(id)[..] else { continue };
            let geometry = match &mut graph.node_mut(consumer).op {
                Op::Conv(c) if !c.transposed => &mut c.geometry,
                Op::Channelwise(c) if !c.transposed => &mut c.geometry,
                _ => continue,
            };
            if geometry.padding.len() != pads.len() {
                continue;
            }
            for (own, (before, after)) in geometry.padding.iter_mut().zip(pads) {
                own.0 += before;
                own.1 += after;
            }
            graph.bypass(id);
            changed = true;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Channelwise, ConvGeometry};
    use crate::passes::test_graphs::*;
    use crate::passes::InferShapes;
    use crate::sim::float::run_float;

    fn pool() -> Op {
        Op::Channelwise(Channelwise::average_pool(ConvGeometry {
            kernel: vec![2],
            stride: vec![1],
            dilation: vec![1],
            padding: vec![(0, 1)],
            output_padding: vec![0],
        }))
    }

    /// [1, 2, 3] padded to [0, 1, 2, 3, 0] and averaged in pairs: [0.5, 1.5, 2.5, 1.5].
    #[test]
    fn a_pad_before_a_pool_becomes_its_padding() {
        let (mut g, ids) = chain(3, vec![Op::Pad { pads: vec![(1, 0)] }, pool()]);
        g.node_mut(ids[0]).op = Op::Input { shape: vec![1, 3] };
        assert!(FoldPad.run(&mut g).unwrap());
        InferShapes.run(&mut g).unwrap();
        assert_eq!(kinds(&g), ["input", "conv", "output"]);
        assert_eq!(run_float(&g, &[1.0, 2.0, 3.0], 1).unwrap(), vec![0.5, 1.5, 2.5, 1.5]);
    }

    #[test]
    fn a_pad_before_anything_else_is_refused_by_shape_inference() {
        let (mut g, _) = chain(3, vec![Op::Pad { pads: vec![(1, 0)] }, relu()]);
        assert!(!FoldPad.run(&mut g).unwrap());
        let refused = InferShapes.run(&mut g).unwrap_err().to_string();
        assert!(refused.contains("Pad") && refused.contains("no convolution"), "{refused}");
    }
}

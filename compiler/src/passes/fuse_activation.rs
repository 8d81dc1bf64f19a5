//! ReLU and LeakyReLU after a linear layer are applied to its exact accumulator, so the
//! layer rounds once. Sigmoid and Tanh stay separate: they are tables on a rounded input.

use super::Pass;
use crate::ir::{Graph, Op};
use crate::Result;

pub struct FuseActivation;

impl Pass for FuseActivation {
    fn name(&self) -> &'static str {
        "fuse-activation"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        for id in graph.topological_order() {
            let Op::Activation(activation) = graph.node(id).op else { continue };
            if !activation.is_fusable() {
                continue;
            }
            let producer = graph.operand(id);
            if graph.consumers(producer).len() != 1 {
                continue;
            }
            let slot = match &mut graph.node_mut(producer).op {
                Op::Dense(d) => &mut d.activation,
                Op::Conv(c) => &mut c.activation,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(activation);
                graph.bypass(id);
                changed = true;
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Activation;
    use crate::passes::test_graphs::*;

    #[test]
    fn fuses_relu_but_not_sigmoid() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), relu(), dense(3, 2), Op::Activation(Activation::Sigmoid)]);
        assert!(FuseActivation.run(&mut g).unwrap());
        assert_eq!(kinds(&g), ["input", "dense", "dense", "activation", "output"]);
        let Op::Dense(d) = &g.node(ids[1]).op else { panic!() };
        assert_eq!(d.activation, Some(Activation::Relu));
    }

    #[test]
    fn does_not_fuse_when_the_layer_output_is_also_read_elsewhere() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), relu()]);
        let extra = g.add("extra", Op::Output);
        g.connect(ids[1], extra, 0);
        assert!(!FuseActivation.run(&mut g).unwrap());
    }
}

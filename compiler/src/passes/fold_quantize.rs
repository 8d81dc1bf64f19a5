//! A quantizer the model declares on a run-time tensor is a cast of that tensor. It becomes
//! the result type of the node that produces the tensor, so that the producer's own final
//! cast (or the conversion of the input) performs it and no layer is added: the backends and
//! the simulator see an ordinary typed tensor.

use super::Pass;
use crate::ir::{Graph, NodeId, Op};
use crate::{Error, Result};

pub struct FoldQuantize;

impl Pass for FoldQuantize {
    fn name(&self) -> &'static str {
        "fold-quantize"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        for id in graph.topological_order() {
            let Op::Quantize(ty) = graph.node(id).op else { continue };
            let producer = typed_producer(graph, id)?;
            let name = &graph.node(id).name;
            match graph.node(producer).declared.result {
                Some(existing) if existing != ty => {
                    return Err(Error::unsupported(
                        "quantizer",
                        name,
                        format!(
                            "the tensor of '{}' is quantized twice ({existing}, then {ty}); two roundings in a row are not one cast",
                            graph.node(producer).name
                        ),
                    ))
                }
                _ => graph.node_mut(producer).declared.result = Some(ty),
            }
            graph.bypass(id);
            changed = true;
        }
        Ok(changed)
    }
}

/// The node whose result type the cast becomes: the quantizer's operand, looking through
/// reshapes (they move no data). Every tensor on the way must be read by nothing else, or
/// the other readers would see the cast too.
fn typed_producer(graph: &Graph, quantize: NodeId) -> Result<NodeId> {
    let mut reader = quantize;
    let mut producer = graph.operand(quantize);
    loop {
        let consumers = graph.consumers(producer);
        if consumers != [reader] {
            let other = consumers.iter().find(|&&c| c != reader).map_or("-", |&c| graph.node(c).name.as_str());
            return Err(Error::unsupported(
                "quantizer",
                &graph.node(quantize).name,
                format!(
                    "the tensor it quantizes ('{}') is also read unquantized by '{other}'; a quantizer must be the only reader of its tensor",
                    graph.node(producer).name
                ),
            ));
        }
        match graph.node(producer).op {
            Op::Reshape { .. } | Op::Flatten { .. } | Op::Identity | Op::Dropout => {
                reader = producer;
                producer = graph.operand(producer);
            }
            Op::Input { .. }
            | Op::Dense(_)
            | Op::Conv(_)
            | Op::BatchNorm(_)
            | Op::Activation(_)
            | Op::PRelu { .. }
            | Op::Requantize(_) => return Ok(producer),
            ref other => {
                return Err(Error::unsupported(
                    "quantizer",
                    &graph.node(quantize).name,
                    format!("it quantizes the result of a {} node, which has no type of its own", other.kind()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::FixedType;
    use crate::passes::test_graphs::*;
    use crate::passes::FuseActivation;

    fn ty(s: &str) -> FixedType {
        s.parse().unwrap()
    }

    #[test]
    fn a_cast_becomes_the_result_type_of_its_producer() {
        let q = ty("ap_ufixed<8,2,AP_RND_CONV,AP_SAT>");
        let (mut g, ids) =
            chain(4, vec![Op::Quantize(ty("ap_fixed<8,1,AP_RND_CONV,AP_SAT>")), dense(4, 3), relu(), Op::Quantize(q)]);
        FuseActivation.run(&mut g).unwrap();
        assert!(FoldQuantize.run(&mut g).unwrap());
        assert_eq!(kinds(&g), ["input", "dense", "output"]);
        assert_eq!(g.node(ids[0]).declared.result, Some(ty("ap_fixed<8,1,AP_RND_CONV,AP_SAT>")));
        assert_eq!(g.node(ids[2]).declared.result, Some(q));
    }

    #[test]
    fn a_cast_after_a_reshape_types_what_is_reshaped() {
        let q = ty("ap_fixed<6,2,AP_RND_CONV,AP_SAT>");
        let (mut g, ids) = chain(4, vec![dense(4, 4), Op::Flatten { axis: 1 }, Op::Quantize(q)]);
        FoldQuantize.run(&mut g).unwrap();
        assert_eq!(kinds(&g), ["input", "dense", "flatten", "output"]);
        assert_eq!(g.node(ids[1]).declared.result, Some(q));
    }

    #[test]
    fn a_tensor_also_read_unquantized_is_refused() {
        let (mut g, ids) = chain(4, vec![dense(4, 3), Op::Quantize(ty("ap_fixed<8,2>"))]);
        let extra = g.add("extra", Op::Output);
        g.connect(ids[1], extra, 0);
        let err = FoldQuantize.run(&mut g).unwrap_err().to_string();
        assert!(err.contains("'n1'") && err.contains("also read unquantized by 'extra'"), "{err}");
    }

    #[test]
    fn two_different_casts_in_a_row_are_refused() {
        let (mut g, _) =
            chain(4, vec![dense(4, 3), Op::Quantize(ty("ap_fixed<8,2>")), Op::Quantize(ty("ap_fixed<6,2>"))]);
        let err = FoldQuantize.run(&mut g).unwrap_err().to_string();
        assert!(err.contains("quantized twice"), "{err}");
    }
}

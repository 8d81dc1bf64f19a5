//! The optimized simulator against a plain reading of the dense semantics,
//! `y = cast_res(act(cast_acc(b) + sum cast_acc(x * w)))`, on random networks,
//! precisions and inputs. Codes are compared, not values.

use balerc_compiler::fixed::{FixedType, Overflow, Quantization};
use balerc_compiler::ir::{Activation, Dense, Graph, Op, Tensor};
use balerc_compiler::passes::{run_pipeline, standard_pipeline, Part};
use balerc_compiler::quant::model::{FusedActivation, LayerOp};
use balerc_compiler::quant::{quantize, Accumulator, PrecisionConfig, QuantizedModel};
use balerc_compiler::sim::Simulator;
use proptest::prelude::*;

/// The reference: one sample, i128 arithmetic, casts straight from the definition.
fn reference(model: &QuantizedModel, input: &[i64]) -> Vec<i64> {
    let mut values: Vec<Vec<i64>> = vec![Vec::new(); model.values.len()];
    values[model.input] = input.to_vec();
    for layer in &model.layers {
        let x_ty = model.values[layer.inputs[0]].ty;
        let y_ty = model.values[layer.output].ty;
        let x = values[layer.inputs[0]].clone();
        let y = match &layer.op {
            LayerOp::Dense { linear, inputs } => {
                let acc = linear.accumulator;
                let (wf, bf, af) = (linear.weight.ty.frac_bits(), linear.bias.ty.frac_bits(), acc.frac_bits());
                (0..linear.bias.codes.len())
                    .map(|j| {
                        let mut sum = acc.cast(linear.bias.codes[j] as i128, bf) as i128;
                        for (i, &xi) in x.iter().enumerate().take(*inputs) {
                            let product = xi as i128 * linear.weight.codes[j * inputs + i] as i128;
                            sum += acc.cast(product, x_ty.frac_bits() + wf) as i128;
                        }
                        let sum = acc.cast(sum, af) as i128; // the accumulator wraps at its width
                        match linear.activation {
                            FusedActivation::None => y_ty.cast(sum, af),
                            FusedActivation::Relu => y_ty.cast(sum.max(0), af),
                            FusedActivation::LeakyRelu { alpha, ty } if sum < 0 => {
                                y_ty.cast(sum * alpha as i128, af + ty.frac_bits())
                            }
                            FusedActivation::LeakyRelu { .. } => y_ty.cast(sum, af),
                        }
                    })
                    .collect()
            }
            LayerOp::Table { entries, range_log2, .. } => {
                let n = entries.len() as f64;
                x.iter()
                    .map(|&c| {
                        // index = floor(x * N / 2R) + N/2, exactly, in rationals.
                        let value = c as f64 * (-x_ty.frac_bits() as f64).exp2();
                        let index = (value * n / (2.0 * (*range_log2 as f64).exp2())).floor() + n / 2.0;
                        entries[index.clamp(0.0, n - 1.0) as usize]
                    })
                    .collect()
            }
            other => panic!("reference does not cover {}", other.kind()),
        };
        values[layer.output] = y;
    }
    values[model.output].clone()
}

fn fixed_type() -> impl Strategy<Value = FixedType> {
    (4u32..=24, -2i32..=10, 0usize..7, 0usize..5).prop_map(|(w, i, q, o)| {
        let q = [
            Quantization::Trn,
            Quantization::TrnZero,
            Quantization::Rnd,
            Quantization::RndZero,
            Quantization::RndMinInf,
            Quantization::RndInf,
            Quantization::RndConv,
        ][q];
        let o = [Overflow::Wrap, Overflow::Sat, Overflow::SatZero, Overflow::SatSym, Overflow::WrapSm][o];
        FixedType { width: w, int_bits: i, signed: true, quantization: q, overflow: o, saturation_bits: 0 }
    })
}

fn activation() -> impl Strategy<Value = Option<Activation>> {
    prop_oneof![
        Just(None),
        Just(Some(Activation::Relu)),
        (0.001f64..0.5).prop_map(|alpha| Some(Activation::LeakyRelu { alpha })),
        Just(Some(Activation::Sigmoid)),
        Just(Some(Activation::Tanh)),
    ]
}

/// A random dense chain: sizes, weights in [-2, 2], one activation after each layer.
fn network() -> impl Strategy<Value = Graph> {
    prop::collection::vec((1usize..7, activation()), 1..4)
        .prop_flat_map(|layers| {
            let sizes: Vec<usize> = std::iter::once(5).chain(layers.iter().map(|l| l.0)).collect();
            let weights =
                sizes.windows(2).map(|w| prop::collection::vec(-2.0f64..2.0, w[0] * w[1] + w[1])).collect::<Vec<_>>();
            (Just(layers), Just(sizes), weights)
        })
        .prop_map(|(layers, sizes, weights)| {
            let mut g = Graph::new("random");
            let mut last = g.add("x", Op::Input { shape: vec![sizes[0]] });
            for (k, ((_, act), w)) in layers.iter().zip(weights).enumerate() {
                let (n_in, n_out) = (sizes[k], sizes[k + 1]);
                let dense = Op::Dense(Dense {
                    weight: Tensor::new(vec![n_out, n_in], w[..n_in * n_out].to_vec()),
                    bias: w[n_in * n_out..].to_vec(),
                    activation: None,
                });
                let id = g.add(format!("dense{k}"), dense);
                g.connect(last, id, 0);
                last = id;
                if let Some(a) = act {
                    let id = g.add(format!("act{k}"), Op::Activation(*a));
                    g.connect(last, id, 0);
                    last = id;
                }
            }
            let out = g.add("y", Op::Output);
            g.connect(last, out, 0);
            g
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn simulator_equals_the_reference(
        mut graph in network(),
        default in fixed_type(),
        accumulator in prop_oneof![Just(None), (16u32..=40, 4i32..=16).prop_map(|(w, i)| Some((w, i)))],
        inputs in prop::collection::vec(-40.0f64..40.0, 5 * 8),
    ) {
        run_pipeline(&mut graph, &standard_pipeline(Part::Full)).unwrap();
        let mut config = PrecisionConfig::uniform(default);
        if let Some((w, i)) = accumulator {
            config.accumulator = Accumulator::Type(FixedType::new(w, i, true).unwrap());
        }
        let model = match quantize(&graph, &config) {
            Ok(model) => model,
            // An exact accumulator wider than 64 bits is refused, rightly.
            Err(e) => { prop_assert!(e.to_string().contains("64")); return Ok(()); }
        };
        let simulator = Simulator::new(&model);
        let codes = simulator.quantize_input(&inputs).unwrap();
        let got = simulator.run(&codes);
        let n_out = simulator.output_len();
        for (s, sample) in codes.chunks(5).enumerate() {
            prop_assert_eq!(&got[s * n_out..(s + 1) * n_out], &reference(&model, sample)[..], "sample {}", s);
        }
    }
}

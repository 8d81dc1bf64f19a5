//! One layer's view: the checks that its sizes fit its kernel, then the typedefs,
//! constant arrays and kernel call that print it.

use crate::view::{comment, Buffer, CodeArray, KernelCall, LayerView, Names, Typedef};
use crate::Error;
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::model::{FusedActivation, Layer, LayerOp, Linear};
use balerc_compiler::quant::QuantizedModel;

/// Widest shifted table index the kernel computes in `long long` without overflow.
const MAX_TABLE_INDEX_BITS: i64 = 62;

/// The pieces a layer adds, filled by the per-kind builders below.
struct Parts {
    typedefs: Vec<Typedef>,
    arrays: Vec<CodeArray>,
}

impl Parts {
    fn typedef(&mut self, ty: &FixedType, name: String) {
        self.typedefs.push(Typedef { ty: ty.to_string(), name });
    }

    fn codes(&mut self, name: String, codes: &[i64]) {
        self.arrays.push(CodeArray::new("long long", name, vec![codes.len()], codes.iter().copied()));
    }

    /// The weight, bias and accumulator types and the weight and bias codes.
    fn linear(&mut self, k: usize, linear: &Linear) {
        self.typedef(&linear.weight.ty, format!("layer{k}_weight_t"));
        self.typedef(&linear.bias.ty, format!("layer{k}_bias_t"));
        self.typedef(&linear.accumulator, format!("layer{k}_accum_t"));
        self.codes(format!("layer{k}_w"), &linear.weight.codes);
        self.codes(format!("layer{k}_b"), &linear.bias.codes);
    }

    /// The activation functor's C++ type (declaring alpha's type for a leaky ReLU).
    fn activation(&mut self, k: usize, act: &FusedActivation) -> String {
        match act {
            FusedActivation::None => "balerc::act_none".into(),
            FusedActivation::Relu => "balerc::act_relu".into(),
            FusedActivation::LeakyRelu { alpha, ty } => {
                self.typedef(ty, format!("layer{k}_alpha_t"));
                format!("balerc::act_leaky_relu<layer{k}_alpha_t, {}LL>", crate::view::Code(*alpha))
            }
        }
    }
}

/// A code as a `long long` constant expression.
fn long_long(code: i64) -> String {
    match code {
        i64::MIN => crate::view::Code(code).to_string(),
        _ => format!("{code}LL"),
    }
}

fn strings<const N: usize>(items: [&dyn ToString; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn layer_view(model: &QuantizedModel, names: &Names, k: usize) -> Result<LayerView, Error> {
    let layer: &Layer = &model.layers[k];
    if matches!(layer.op, LayerOp::Add { .. } | LayerOp::Concat) {
        return crate::join_view::join_view(model, names, k);
    }
    let [input] = layer.inputs[..] else {
        return Err(Error::Unsupported(format!(
            "layer '{}' has {} inputs; every layer takes one",
            layer.name,
            layer.inputs.len()
        )));
    };
    let (x, y) = (&model.values[input], &model.values[layer.output]);
    let (n_in, n_out) = (x.len(), y.len());
    let (x_t, y_t) = (&names.types[input], &names.types[layer.output]);
    let (x_a, y_a) = (&names.arrays[input], &names.arrays[layer.output]);
    let kind = layer.op.kind();
    let is_output = layer.output == model.output;
    let mut parts = Parts { typedefs: Vec::new(), arrays: Vec::new() };
    if !is_output {
        parts.typedef(&y.ty, y_t.clone());
    }
    let elementwise = || {
        if n_in != n_out {
            Err(Error::Unsupported(format!("layer '{}' ({kind}) has {n_in} inputs but {n_out} outputs", layer.name)))
        } else {
            Ok(())
        }
    };
    let call = match &layer.op {
        LayerOp::Dense { linear, inputs } => {
            if *inputs != n_in || linear.weight.codes.len() != n_in * n_out || linear.bias.codes.len() != n_out {
                return Err(Error::Unsupported(format!(
                    "dense layer '{}': weight or bias sizes do not match {n_in} inputs and {n_out} outputs",
                    layer.name
                )));
            }
            parts.linear(k, linear);
            let act = parts.activation(k, &linear.activation);
            KernelCall {
                kernel: "dense",
                template_args: strings([
                    x_t,
                    y_t,
                    &format!("layer{k}_weight_t"),
                    &format!("layer{k}_bias_t"),
                    &format!("layer{k}_accum_t"),
                    &act,
                    &n_in,
                    &n_out,
                ]),
                args: strings([x_a, y_a, &format!("layer{k}_w"), &format!("layer{k}_b")]),
            }
        }
        LayerOp::Conv { linear, taps, .. } => {
            if taps.outputs() != n_out
                || taps.per_channel == 0
                || (n_out - 1) / taps.per_channel >= linear.bias.codes.len()
            {
                return Err(Error::Unsupported(format!(
                    "conv layer '{}': its taps do not match {n_out} outputs",
                    layer.name
                )));
            }
            if taps.entries.iter().any(|&(i, w)| i as usize >= n_in || w as usize >= linear.weight.codes.len()) {
                return Err(Error::Unsupported(format!("conv layer '{}': a tap is out of range", layer.name)));
            }
            parts.linear(k, linear);
            let act = parts.activation(k, &linear.activation);
            // Outputs at an edge have fewer taps; the kernel's tables are rectangular, padded with 0.
            let max_taps = (0..n_out).map(|o| taps.of(o).len()).max().unwrap_or(0).max(1);
            let n_taps = (0..n_out).map(|o| taps.of(o).len() as i64);
            parts.arrays.push(CodeArray::new("int", format!("layer{k}_n_taps"), vec![n_out], n_taps));
            let padded = |pick: fn(&(u32, u32)) -> u32| {
                (0..n_out).flat_map(move |o| {
                    let row = taps.of(o);
                    (0..max_taps).map(move |t| row.get(t).map_or(0, pick) as i64)
                })
            };
            let dims = vec![n_out, max_taps];
            parts.arrays.push(CodeArray::new("int", format!("layer{k}_tap_in"), dims.clone(), padded(|e| e.0)));
            parts.arrays.push(CodeArray::new("int", format!("layer{k}_tap_w"), dims, padded(|e| e.1)));
            KernelCall {
                kernel: "conv",
                template_args: strings([
                    x_t,
                    y_t,
                    &format!("layer{k}_weight_t"),
                    &format!("layer{k}_bias_t"),
                    &format!("layer{k}_accum_t"),
                    &act,
                    &n_in,
                    &n_out,
                    &max_taps,
                    &taps.per_channel,
                ]),
                args: strings([
                    x_a,
                    y_a,
                    &format!("layer{k}_w"),
                    &format!("layer{k}_b"),
                    &format!("layer{k}_n_taps"),
                    &format!("layer{k}_tap_in"),
                    &format!("layer{k}_tap_w"),
                ]),
            }
        }
        LayerOp::Affine { scale, shift, accumulator, per_channel } => {
            elementwise()?;
            if *per_channel == 0 || (n_out - 1) / per_channel >= scale.codes.len().min(shift.codes.len()) {
                return Err(Error::Unsupported(format!(
                    "affine layer '{}': scale or shift shorter than its channels",
                    layer.name
                )));
            }
            parts.typedef(&scale.ty, format!("layer{k}_scale_t"));
            parts.typedef(&shift.ty, format!("layer{k}_shift_t"));
            parts.typedef(accumulator, format!("layer{k}_accum_t"));
            parts.codes(format!("layer{k}_scale"), &scale.codes);
            parts.codes(format!("layer{k}_shift"), &shift.codes);
            KernelCall {
                kernel: "affine",
                template_args: strings([
                    x_t,
                    y_t,
                    &format!("layer{k}_scale_t"),
                    &format!("layer{k}_shift_t"),
                    &format!("layer{k}_accum_t"),
                    &n_in,
                    per_channel,
                ]),
                args: strings([x_a, y_a, &format!("layer{k}_scale"), &format!("layer{k}_shift")]),
            }
        }
        LayerOp::Relu => {
            elementwise()?;
            KernelCall {
                kernel: "activation",
                template_args: strings([x_t, y_t, &"balerc::act_relu", &n_in]),
                args: strings([x_a, y_a]),
            }
        }
        LayerOp::MaxPool { windows, .. } => {
            if windows.outputs() != n_out || windows.entries.iter().any(|&(i, _)| i as usize >= n_in) {
                return Err(Error::Unsupported(format!("max pool '{}': its windows do not match", layer.name)));
            }
            let max_taps = (0..n_out).map(|o| windows.of(o).len()).max().unwrap_or(0).max(1);
            let n_taps = (0..n_out).map(|o| windows.of(o).len() as i64);
            parts.arrays.push(CodeArray::new("int", format!("layer{k}_n_taps"), vec![n_out], n_taps));
            let tap_in = (0..n_out).flat_map(|o| {
                let row = windows.of(o);
                (0..max_taps).map(move |t| row.get(t).map_or(0, |e| e.0) as i64)
            });
            parts.arrays.push(CodeArray::new("int", format!("layer{k}_tap_in"), vec![n_out, max_taps], tap_in));
            KernelCall {
                kernel: "max_pool",
                template_args: strings([x_t, y_t, &n_in, &n_out, &max_taps]),
                args: strings([x_a, y_a, &format!("layer{k}_n_taps"), &format!("layer{k}_tap_in")]),
            }
        }
        LayerOp::Clip { low, high } => {
            elementwise()?;
            let (low, high) = (long_long(*low), long_long(*high));
            KernelCall {
                kernel: "activation",
                template_args: strings([x_t, y_t, &format!("balerc::act_clip<{x_t}, {low}, {high}>"), &n_in]),
                args: strings([x_a, y_a]),
            }
        }
        LayerOp::LeakyRelu { alpha, alpha_ty } => {
            elementwise()?;
            let act = parts.activation(k, &FusedActivation::LeakyRelu { alpha: *alpha, ty: *alpha_ty });
            KernelCall {
                kernel: "activation",
                template_args: strings([x_t, y_t, &act, &n_in]),
                args: strings([x_a, y_a]),
            }
        }
        LayerOp::PRelu { alphas, per_channel } => {
            elementwise()?;
            if *per_channel == 0 || (n_out - 1) / per_channel >= alphas.codes.len() {
                return Err(Error::Unsupported(format!("prelu layer '{}': fewer slopes than channels", layer.name)));
            }
            parts.typedef(&alphas.ty, format!("layer{k}_alpha_t"));
            parts.codes(format!("layer{k}_alpha"), &alphas.codes);
            KernelCall {
                kernel: "prelu",
                template_args: strings([x_t, y_t, &format!("layer{k}_alpha_t"), &n_in, per_channel]),
                args: strings([x_a, y_a, &format!("layer{k}_alpha")]),
            }
        }
        LayerOp::Table { entries, index_shift, linear, .. } => {
            elementwise()?;
            if entries.is_empty() || entries.len() > i32::MAX as usize {
                return Err(Error::Unsupported(format!("table layer '{}' has {} entries", layer.name, entries.len())));
            }
            if *index_shift > 0 && i64::from(x.ty.width) + i64::from(*index_shift) > MAX_TABLE_INDEX_BITS {
                return Err(Error::Unsupported(format!(
                    "table layer '{}': an index shift of {index_shift} on a {}-bit input does not fit 64 bits",
                    layer.name, x.ty.width
                )));
            }
            // A right shift by 63 already leaves only the sign; the kernel cannot shift further.
            let shift = (*index_shift).max(-63);
            parts.codes(format!("layer{k}_table"), entries);
            match linear {
                None => KernelCall {
                    kernel: "table",
                    template_args: strings([x_t, y_t, &n_in, &entries.len(), &shift]),
                    args: strings([x_a, y_a, &format!("layer{k}_table")]),
                },
                Some(line) => {
                    parts.typedef(&line.slope_ty, format!("layer{k}_slope_t"));
                    KernelCall {
                        kernel: "table_linear",
                        template_args: strings([x_t, y_t, &format!("layer{k}_slope_t"), &n_in, &entries.len(), &shift]),
                        args: strings([
                            x_a,
                            y_a,
                            &format!("layer{k}_table"),
                            &long_long(line.from),
                            &long_long(line.slope),
                        ]),
                    }
                }
            }
        }
        LayerOp::Reshape => {
            elementwise()?;
            KernelCall { kernel: "copy", template_args: strings([x_t, y_t, &n_in]), args: strings([x_a, y_a]) }
        }
        LayerOp::Add { .. } | LayerOp::Concat => unreachable!("joins have a view of their own"),
    };
    Ok(LayerView {
        index: k,
        kind,
        name: comment(&layer.name),
        typedefs: parts.typedefs,
        arrays: parts.arrays,
        buffer: (!is_output).then(|| Buffer { ty: y_t.clone(), name: y_a.clone(), len: n_out }),
        call,
    })
}

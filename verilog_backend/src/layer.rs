//! One layer of the datapath: combinational logic from the previous layer's register
//! to this layer's output vector.

use crate::cast::{Conversion, Conversions};
use crate::text::{element, fit, literal, range};
use crate::tree::{add, stages_passed, sum, sum_pipelined, Cost, Registers, Source, Stages, Sum, Term};
use crate::{csd, cse};
use crate::{Error, Multipliers};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::model::{FusedActivation, Layer, LayerOp, Linear, QuantizedModel};
use balerc_compiler::quant::range::Interval;
use std::fmt::Write;

/// What a layer's emitter needs from the surrounding design.
pub struct Context<'a> {
    pub body: &'a mut String,
    pub conversions: &'a mut Conversions,
    pub cost: &'a mut Cost,
    pub multipliers: Multipliers,
    /// This layer's DSP plan: for each output, for each product (or folded slot), whether
    /// it goes to a DSP slice.
    pub dsp: Vec<Vec<bool>>,
    pub stages: Stages,
    /// Layers with more term pairs than this skip the search for shared subexpressions.
    pub sharing_pairs: usize,
    /// Pipeline registers inside this layer.
    pub registers: Registers,
    /// This layer's prefix for wire names, e.g. `l3`.
    pub prefix: String,
    /// The packed vector of each operand (one, or several for a join), and the packed output
    /// vector to drive.
    pub inputs: Vec<String>,
    pub output: String,
}

/// An input element as a named wire with its type.
pub(crate) struct Element {
    pub name: String,
    pub ty: FixedType,
}

impl Element {
    pub fn range(&self) -> Interval {
        Interval::of_type(self.ty)
    }
}

/// Emits the layer; returns how many register stages it has inside (its output
/// register not counted).
pub fn emit(model: &QuantizedModel, layer: &Layer, cx: &mut Context) -> Result<u32, Error> {
    let input = &model.values[layer.inputs[0]];
    let output = &model.values[layer.output];
    let p = cx.prefix.clone();
    writeln!(
        cx.body,
        "    // {} '{}': {} x {} -> {} x {}",
        layer.op.kind(),
        layer.name,
        input.len(),
        input.ty,
        output.len(),
        output.ty
    )
    .unwrap();
    let elements = unpack(cx.body, &cx.inputs[0], &p, input.ty, input.len());
    let mut inner_stages = 0;
    let outputs: Vec<String> = match &layer.op {
        LayerOp::Dense { .. } | LayerOp::Conv { .. } => {
            let (linear, rows) = linear_rows(&layer.op).expect("a linear layer");
            let (outs, stages) =
                linear_layer(linear, &rows.products, rows.per_channel, &elements, output.ty, cx, &layer.name)?;
            inner_stages = stages;
            outs
        }
        LayerOp::Affine { scale, shift, accumulator, per_channel } => {
            let frac = accumulator.frac_bits();
            let up = (frac - input.ty.frac_bits() - scale.ty.frac_bits()) as u32;
            let shift_up = (frac - shift.ty.frac_bits()) as u32;
            let mut outs = Vec::new();
            for (i, x) in elements.iter().enumerate() {
                let c = i / per_channel;
                let mut terms = products(x, scale.codes[c], up, cx, &format!("{p}_o{i}"));
                terms.push(Term::constant((shift.codes[c] as i128) << shift_up));
                let s = sum(cx.body, &format!("{p}_o{i}"), terms, cx.cost);
                outs.push(convert(cx, &s.name, s.width, true, frac, output.ty, &format!("{p}_o{i}"))?);
            }
            outs
        }
        LayerOp::Relu => elements
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let w = x.ty.width;
                let name = format!("{p}_r{i}");
                let zero = literal(0, w);
                let rectified =
                    if x.ty.signed { format!("{}[{}] ? {zero} : {}", x.name, w - 1, x.name) } else { x.name.clone() };
                writeln!(cx.body, "    wire {} {name} = {rectified};", range(w)).unwrap();
                convert(cx, &name, w, x.ty.signed, x.ty.frac_bits(), output.ty, &format!("{p}_o{i}"))
            })
            .collect::<Result<_, _>>()?,
        LayerOp::MaxPool { windows, .. } => {
            let (ty, mut outs) = (input.ty, Vec::with_capacity(windows.outputs()));
            let compared = |v: &str| if ty.signed { format!("$signed({v})") } else { v.to_string() };
            for o in 0..windows.outputs() {
                // A tree of comparisons, pairs at each level.
                let mut level: Vec<String> =
                    windows.of(o).iter().map(|&(i, _)| elements[i as usize].name.clone()).collect();
                let mut node = 0;
                while level.len() > 1 {
                    let mut next = Vec::with_capacity(level.len().div_ceil(2));
                    for pair in level.chunks(2) {
                        let [a, b] = pair else {
                            next.push(pair[0].clone());
                            continue;
                        };
                        let name = format!("{p}_o{o}_m{node}");
                        node += 1;
                        let larger = format!("{} > {} ? {a} : {b}", compared(a), compared(b));
                        writeln!(cx.body, "    wire {} {name} = {larger};", range(ty.width)).unwrap();
                        cx.cost.mux_luts += comparator_luts(ty.width);
                        next.push(name);
                    }
                    level = next;
                }
                outs.push(convert(
                    cx,
                    &level[0],
                    ty.width,
                    ty.signed,
                    ty.frac_bits(),
                    output.ty,
                    &format!("{p}_o{o}"),
                )?);
            }
            outs
        }
        LayerOp::Clip { low, high } => elements
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let w = x.ty.width;
                let name = format!("{p}_c{i}");
                let (low, high) = (literal(i128::from(*low), w), literal(i128::from(*high), w));
                let compared = |v: &str| if x.ty.signed { format!("$signed({v})") } else { v.to_string() };
                let (v, l, h) = (compared(&x.name), compared(&low), compared(&high));
                let clipped = format!("{v} < {l} ? {low} : {v} > {h} ? {high} : {}", x.name);
                writeln!(cx.body, "    wire {} {name} = {clipped};", range(w)).unwrap();
                cx.cost.mux_luts += 2 * comparator_luts(w);
                convert(cx, &name, w, x.ty.signed, x.ty.frac_bits(), output.ty, &format!("{p}_o{i}"))
            })
            .collect::<Result<_, _>>()?,
        LayerOp::LeakyRelu { .. } | LayerOp::PRelu { .. } => {
            // One slope for every element, or one per channel.
            let slope = |i: usize| match &layer.op {
                LayerOp::PRelu { alphas, per_channel } => (alphas.codes[i / per_channel], alphas.ty),
                LayerOp::LeakyRelu { alpha, alpha_ty } => (*alpha, *alpha_ty),
                _ => unreachable!("matched above"),
            };
            elements
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let (alpha, alpha_ty) = slope(i);
                    let prefix = format!("{p}_o{i}");
                    leaky(
                        cx,
                        &x.name,
                        x.ty.width,
                        x.ty.signed,
                        x.range(),
                        x.ty.frac_bits(),
                        alpha,
                        alpha_ty,
                        output.ty,
                        &prefix,
                    )
                })
                .collect::<Result<_, _>>()?
        }
        LayerOp::Table { entries, index_shift, function, linear, .. } => {
            let rom = format!("{p}_rom");
            let bits = entries.len().trailing_zeros();
            write_rom(cx.body, &rom, entries, bits, output.ty.width, *function);
            elements
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let index = table_index(cx.body, x, *index_shift, bits, &format!("{p}_i{i}"));
                    let looked_up = format!("{p}_o{i}_t");
                    writeln!(cx.body, "    wire {} {looked_up} = {rom}({index});", range(output.ty.width)).unwrap();
                    let Some(line) = linear else { return Ok(looked_up) };
                    // From `line.from` on, x * slope cast to the result instead of the table.
                    let prefix = format!("{p}_o{i}_l");
                    let terms = products(x, line.slope, 0, cx, &prefix);
                    let s = sum(cx.body, &prefix, terms, cx.cost);
                    let frac = x.ty.frac_bits() + line.slope_ty.frac_bits();
                    let on_line = convert(cx, &s.name, s.width, true, frac, output.ty, &prefix)?;
                    let w = x.ty.width;
                    let from = literal(i128::from(line.from), w);
                    let at_or_above = if x.ty.signed {
                        format!("$signed({}) >= $signed({from})", x.name)
                    } else {
                        format!("{} >= {from}", x.name)
                    };
                    let name = format!("{p}_o{i}_y");
                    writeln!(
                        cx.body,
                        "    wire {} {name} = {at_or_above} ? {on_line} : {looked_up};",
                        range(output.ty.width)
                    )
                    .unwrap();
                    cx.cost.mux_luts += comparator_luts(w.max(output.ty.width));
                    Ok(name)
                })
                .collect::<Result<_, Error>>()?
        }
        LayerOp::Reshape => elements.iter().map(|x| x.name.clone()).collect(),
        LayerOp::Add { sum } => {
            let others = crate::join::unpack_others(model, layer, cx);
            crate::join::add(cx, &elements, &others[0], *sum, output.ty)?
        }
        LayerOp::Concat => {
            let mut parts = vec![elements];
            parts.extend(crate::join::unpack_others(model, layer, cx));
            crate::join::concat(cx, &parts, output.ty)?
        }
    };
    let packed: Vec<&str> = outputs.iter().rev().map(String::as_str).collect();
    writeln!(cx.body, "    assign {} = {{{}}};", cx.output, packed.join(", ")).unwrap();
    Ok(inner_stages)
}

/// LUTs of a comparison of two `width`-bit codes and the selection of one of them: a LUT a
/// bit for the comparison's carry chain and one a bit for the multiplexer.
fn comparator_luts(width: u32) -> u64 {
    2 * width as u64
}

/// The products of a linear layer: for each output, (input index, weight code) pairs.
pub(crate) struct Rows {
    pub products: Vec<Vec<(usize, i64)>>,
    /// Outputs per bias entry (a conv's outputs per channel; 1 for dense layers).
    pub per_channel: usize,
}

/// The weights and products of a dense or conv layer; None for other layers.
pub(crate) fn linear_rows(op: &LayerOp) -> Option<(&Linear, Rows)> {
    match op {
        LayerOp::Dense { linear, inputs } => {
            let products = (0..linear.bias.codes.len())
                .map(|j| (0..*inputs).map(|i| (i, linear.weight.codes[j * inputs + i])).collect())
                .collect();
            Some((linear, Rows { products, per_channel: 1 }))
        }
        LayerOp::Conv { linear, taps, .. } => {
            let products = (0..taps.outputs())
                .map(|o| taps.of(o).iter().map(|&(i, w)| (i as usize, linear.weight.codes[w as usize])).collect())
                .collect();
            Some((linear, Rows { products, per_channel: taps.per_channel }))
        }
        _ => None,
    }
}

/// The elements of a packed vector as wires `{prefix}_x{i}`.
pub(crate) fn unpack(body: &mut String, vector: &str, prefix: &str, ty: FixedType, count: usize) -> Vec<Element> {
    (0..count)
        .map(|i| {
            let name = format!("{prefix}_x{i}");
            writeln!(body, "    wire {} {name} = {};", range(ty.width), element(vector, i, ty.width)).unwrap();
            Element { name, ty }
        })
        .collect()
}

/// The terms of `x * weight` (weight already at the accumulator's scale after `up`) outside
/// linear layers: a DSP product only with `--multipliers dsp`.
fn products(x: &Element, weight: i64, up: u32, cx: &mut Context, prefix: &str) -> Vec<Term> {
    if weight == 0 {
        return Vec::new();
    }
    match cx.multipliers {
        Multipliers::Dsp => vec![dsp_product(x, weight, up, cx, prefix)],
        Multipliers::ShiftAdd | Multipliers::Auto => digit_terms(x, weight, up),
    }
}

/// `x * weight` as canonical-signed-digit shift-add terms.
fn digit_terms(x: &Element, weight: i64, up: u32) -> Vec<Term> {
    csd::digits(weight)
        .into_iter()
        .map(|(k, negative)| Term::wire(x.name.clone(), x.ty.width, x.ty.signed, x.range(), k + up, negative))
        .collect()
}

/// `x * weight` as one `*`, for a DSP slice.
fn dsp_product(x: &Element, weight: i64, up: u32, cx: &mut Context, prefix: &str) -> Term {
    let product = x.range().scale(weight);
    let width = product.signed_bits();
    let name = format!("{prefix}_p{}", x.name);
    // Signed, so that synthesis sees the sign extension and fits each product into
    // one DSP slice (an unsigned product of the extended operands needs two).
    writeln!(
        cx.body,
        "    wire {} {name} = $signed({}) * $signed({});",
        range(width),
        fit(&x.name, x.ty.width, x.ty.signed, 0, width),
        literal(weight as i128, width)
    )
    .unwrap();
    cx.cost.dsp_products += 1;
    Term::wire(name, width, true, product, up, false)
}

fn linear_layer(
    linear: &Linear,
    rows: &[Vec<(usize, i64)>],
    per_channel: usize,
    elements: &[Element],
    result: FixedType,
    cx: &mut Context,
    name: &str,
) -> Result<(Vec<String>, u32), Error> {
    require_exact(linear, name)?;
    let acc_frac = linear.accumulator.frac_bits();
    let up = (acc_frac - elements[0].ty.frac_bits() - linear.weight.ty.frac_bits()) as u32;
    let bias_up = (acc_frac - linear.bias.ty.frac_bits()) as u32;
    let p = cx.prefix.clone();
    let bias = |o: usize| (linear.bias.codes[o / per_channel] as i128) << bias_up;
    // The plan splits each output's products: DSP slices, and shift-add terms that share
    // subexpressions among themselves.
    let on_dsp = |o: usize, k: usize| cx.dsp.get(o).and_then(|row| row.get(k)).copied().unwrap_or(false);
    let shift_add_rows: Vec<Vec<(usize, i64)>> = rows
        .iter()
        .enumerate()
        .map(|(o, row)| row.iter().enumerate().filter(|&(k, _)| !on_dsp(o, k)).map(|(_, &p)| p).collect())
        .collect();
    let dsp_rows: Vec<Vec<(usize, i64)>> = rows
        .iter()
        .enumerate()
        .map(|(o, row)| {
            row.iter().enumerate().filter(|&(k, &(_, w))| on_dsp(o, k) && w != 0).map(|(_, &p)| p).collect()
        })
        .collect();
    let biased: Vec<bool> = (0..rows.len()).map(|o| bias(o) != 0).collect();
    let mut sums = shared_shift_add(&shift_add_rows, elements, up, &biased, cx);
    let widest = sums.iter().zip(&dsp_rows).map(|(terms, dsp)| terms.len() + dsp.len() + 1).max().unwrap_or(1);
    let depth = dsp_product_depth(cx.stages.levels, widest);
    for (o, row) in dsp_rows.iter().enumerate() {
        for &(i, w) in row {
            let term = dsp_product(&elements[i], w, up, cx, &format!("{p}_o{o}"));
            sums[o].push(term.at_level(depth));
        }
    }
    let mut outs = Vec::with_capacity(rows.len());
    for (o, terms) in sums.iter_mut().enumerate() {
        let prefix = format!("{p}_o{o}");
        let mut terms = std::mem::take(terms);
        terms.push(Term::constant(bias(o)));
        let (s, stages) = sum_pipelined(cx.body, &format!("{prefix}_s"), terms, cx.cost, cx.stages, &mut cx.registers);
        outs.push((activate(cx, linear, &s, result, &prefix)?, stages));
    }
    // Shallower trees wait for the deepest, so every output leaves in the same cycle.
    let deepest = outs.iter().map(|&(_, s)| s).max().unwrap_or(0);
    let aligned = outs
        .into_iter()
        .map(|(mut y, stages)| {
            for _ in stages..deepest {
                y = cx.registers.delay(cx.body, &y, result.width);
            }
            y
        })
        .collect();
    Ok((aligned, deepest))
}

/// The layer's fused activation on an exact sum, then the cast to the result type.
pub(crate) fn activate(
    cx: &mut Context,
    linear: &Linear,
    s: &Sum,
    result: FixedType,
    prefix: &str,
) -> Result<String, Error> {
    let acc_frac = linear.accumulator.frac_bits();
    match linear.activation {
        FusedActivation::None => convert(cx, &s.name, s.width, true, acc_frac, result, prefix),
        FusedActivation::Relu => {
            let name = format!("{prefix}_relu");
            writeln!(
                cx.body,
                "    wire {} {name} = {}[{}] ? {} : {};",
                range(s.width),
                s.name,
                s.width - 1,
                literal(0, s.width),
                s.name
            )
            .unwrap();
            convert(cx, &name, s.width, true, acc_frac, result, prefix)
        }
        FusedActivation::LeakyRelu { alpha, ty } => {
            leaky(cx, &s.name, s.width, true, s.range, acc_frac, alpha, ty, result, prefix)
        }
    }
}

/// Refuses an explicit accumulator: the backend sizes every adder from exact sums.
pub(crate) fn require_exact(linear: &Linear, name: &str) -> Result<(), Error> {
    if linear.exact {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "layer '{name}' uses the explicit accumulator {}; the Verilog backend sizes every adder exactly, so use accumulator = \"exact\"",
        linear.accumulator
    )))
}

/// Adder levels a DSP slice's multiplication is worth in the clock budget (about 2.4 ns of
/// the delay model in `adder_levels_for_clock`).
pub(crate) const DSP_PRODUCT_LEVELS: u32 = 4;

/// The depth DSP products start their adder trees at, for trees of up to `terms` terms: the
/// product's own levels when the whole tree still fits the first stage after it; otherwise a
/// full stage, so that the register comes right after the multipliers, where the DSP slice
/// has its own (MREG) and the flip-flops cost nothing.
pub(crate) fn dsp_product_depth(levels_per_stage: Option<u32>, terms: usize) -> u32 {
    let Some(k) = levels_per_stage else { return 0 };
    let tree = usize::BITS - terms.saturating_sub(1).leading_zeros();
    if DSP_PRODUCT_LEVELS + tree <= k {
        DSP_PRODUCT_LEVELS
    } else {
        k
    }
}

/// Shared subexpressions are at most this many adders deep, and never deeper than a
/// pipeline stage. The sums' adder trees take each term as soon as it is ready, so a deep
/// shared term deepens a sum only when the sum's other terms leave it no level free.
const SHARING_MAX_DEPTH: u32 = 5;

/// How deep the most frequent pairs were shared before the search weighed bits.
const FREQUENCY_MAX_DEPTH: u32 = 3;

/// The sums of a linear layer's outputs over signals: its inputs and shared subexpressions.
#[derive(Clone)]
struct Sharing {
    signals: Vec<cse::Signal>,
    definitions: Vec<cse::Definition>,
    sums: Vec<Vec<cse::Term>>,
}

impl Sharing {
    /// Every output's canonical-signed-digit terms, nothing shared.
    fn none(rows: &[Vec<(usize, i64)>], elements: &[Element], up: u32) -> Sharing {
        let signals = elements.iter().map(|x| cse::Signal { range: x.range(), level: 0 }).collect();
        let sums = rows
            .iter()
            .map(|row| {
                row.iter()
                    .flat_map(|&(i, w)| {
                        csd::digits(w).into_iter().map(move |(k, negative)| cse::Term {
                            signal: i,
                            shift: k + up,
                            negative,
                        })
                    })
                    .collect()
            })
            .collect();
        Sharing { signals, definitions: Vec::new(), sums }
    }

    fn shared(mut self, max_depth: u32, priority: cse::Priority) -> Sharing {
        self.definitions = cse::eliminate(&mut self.signals, &mut self.sums, max_depth, priority);
        self
    }

    /// The register stages of the layer's deepest sum; `biased` tells which sums add a
    /// nonzero constant.
    fn stages(&self, biased: &[bool], stages: Stages) -> u32 {
        let levels = |(row, &bias): (&Vec<cse::Term>, &bool)| {
            let constant = if bias { Some(0) } else { None };
            row.iter().map(|t| self.signals[t.signal].level).chain(constant).collect::<Vec<_>>()
        };
        self.sums.iter().zip(biased).map(|sum| stages_passed(&levels(sum), stages)).max().unwrap_or(0)
    }
}

/// Shares the pairs that save the most bits first. When that leaves the layer more
/// register stages than sharing could, and sharing the most frequent pairs first no
/// deeper than `FREQUENCY_MAX_DEPTH` (as the backend did before weighing bits) leaves
/// fewer, that is taken instead: weighing bits never costs a clock cycle.
fn share(unshared: &Sharing, biased: &[bool], stages: Stages) -> Sharing {
    let max_depth = |limit: u32| stages.levels.map_or(limit, |k| k.min(limit));
    // Sharing replaces terms by subtrees over the same terms, so no sharing leaves a sum
    // fewer stages than none.
    let least = unshared.stages(biased, stages);
    let by_bits = unshared.clone().shared(max_depth(SHARING_MAX_DEPTH), cse::Priority::BitsSaved);
    let deepest = by_bits.stages(biased, stages);
    if deepest <= least {
        return by_bits;
    }
    let by_frequency = unshared.clone().shared(max_depth(FREQUENCY_MAX_DEPTH), cse::Priority::Frequency);
    if by_frequency.stages(biased, stages) < deepest {
        by_frequency
    } else {
        by_bits
    }
}

/// The shift-add terms of every output of a linear layer, with subexpressions that
/// several outputs share computed once; each term is as many adder levels deep as its
/// signal.
fn shared_shift_add(
    rows: &[Vec<(usize, i64)>],
    elements: &[Element],
    up: u32,
    biased: &[bool],
    cx: &mut Context,
) -> Vec<Vec<Term>> {
    let unshared = Sharing::none(rows, elements, up);
    let pairs: usize = unshared.sums.iter().map(|r| r.len() * r.len().saturating_sub(1) / 2).sum();
    let Sharing { signals, definitions, sums } =
        if pairs <= cx.sharing_pairs { share(&unshared, biased, cx.stages) } else { unshared };
    let mut names: Vec<(String, u32, bool)> =
        elements.iter().map(|x| (x.name.clone(), x.ty.width, x.ty.signed)).collect();
    for d in &definitions {
        let operand = |signal: usize, shift: u32, negative: bool| {
            let (name, width, signed) = &names[signal];
            Term::wire(name.clone(), *width, *signed, signals[signal].range, shift, negative)
        };
        let (a, b) = (operand(d.a, d.a_shift, false), operand(d.b, d.b_shift, d.subtract));
        let shared = add(cx.body, format!("{}_e{}", cx.prefix, d.signal), &a, &b, false, cx.cost);
        // One operand is unshifted and the first is added, so the wire holds the signal itself.
        debug_assert!(shared.shift == 0 && !shared.negative);
        let Source::Wire { name, width, .. } = shared.source else { unreachable!("an adder makes a wire") };
        names.push((name, width, true));
    }
    sums.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|t| {
                    let (name, width, signed) = &names[t.signal];
                    let signal = &signals[t.signal];
                    Term::wire(name.clone(), *width, *signed, signal.range, t.shift, t.negative).at_level(signal.level)
                })
                .collect()
        })
        .collect()
}

/// `x >= 0 ? cast(x) : cast(x * alpha)`.
#[allow(clippy::too_many_arguments)]
fn leaky(
    cx: &mut Context,
    x: &str,
    width: u32,
    signed: bool,
    values: Interval,
    frac: i32,
    alpha: i64,
    alpha_ty: FixedType,
    result: FixedType,
    prefix: &str,
) -> Result<String, Error> {
    // x * alpha: shift-add terms like any constant product, or one multiplier.
    let (scaled, pw) = match cx.multipliers {
        Multipliers::ShiftAdd | Multipliers::Auto => {
            let terms = csd::digits(alpha)
                .into_iter()
                .map(|(k, negative)| Term::wire(x.to_string(), width, signed, values, k, negative))
                .collect();
            let s = sum(cx.body, &format!("{prefix}_leak"), terms, cx.cost);
            (s.name, s.width)
        }
        Multipliers::Dsp => {
            let pw = values.scale(alpha).signed_bits();
            let scaled = format!("{prefix}_leak");
            writeln!(
                cx.body,
                "    wire {} {scaled} = $signed({}) * $signed({});",
                range(pw),
                fit(x, width, signed, 0, pw),
                literal(alpha as i128, pw)
            )
            .unwrap();
            cx.cost.dsp_products += 1;
            (scaled, pw)
        }
    };
    let positive = convert(cx, x, width, signed, frac, result, &format!("{prefix}_pos"))?;
    let negative = convert(cx, &scaled, pw, true, frac + alpha_ty.frac_bits(), result, &format!("{prefix}_neg"))?;
    let name = format!("{prefix}_y");
    let is_negative = if signed { format!("{x}[{}]", width - 1) } else { "1'b0".into() };
    writeln!(cx.body, "    wire {} {name} = {is_negative} ? {negative} : {positive};", range(result.width)).unwrap();
    Ok(name)
}

/// Instantiates the conversion of `x` to `target`; returns the result wire.
pub(crate) fn convert(
    cx: &mut Context,
    x: &str,
    width: u32,
    signed: bool,
    frac: i32,
    target: FixedType,
    prefix: &str,
) -> Result<String, Error> {
    let module = cx.conversions.module(Conversion::new(width, signed, frac, target)?, target);
    let y = format!("{prefix}_c");
    writeln!(cx.body, "    wire {} {y};\n    {module} {prefix}_cast (.x({x}), .y({y}));", range(target.width)).unwrap();
    Ok(y)
}

/// The table index floor(x * 2^shift) + N/2, clamped to [0, N-1].
fn table_index(body: &mut String, x: &Element, shift: i32, bits: u32, prefix: &str) -> String {
    let w = x.ty.width;
    let values = x.range();
    // floor(x * 2^shift): a left shift, or the bits above the dropped ones.
    let (scaled, scaled_range) = if shift >= 0 {
        let r = values.shifted(shift as u32);
        (fit(&x.name, w, x.ty.signed, shift as u32, r.signed_bits()), r)
    } else {
        let s = (-shift) as u32;
        let r = Interval { lo: values.lo >> s, hi: values.hi >> s };
        let (kept, kept_width, kept_signed) = match (s >= w, x.ty.signed) {
            (true, true) => (format!("{}[{}]", x.name, w - 1), 1, true),
            (true, false) => ("1'b0".to_string(), 1, true),
            (false, signed) => (format!("{}[{}:{}]", x.name, w - 1, s), w - s, signed),
        };
        writeln!(body, "    wire {} {prefix}_t = {kept};", range(kept_width)).unwrap();
        (fit(&format!("{prefix}_t"), kept_width, kept_signed, 0, r.signed_bits()), r)
    };
    let scaled_width = scaled_range.signed_bits();
    let half = 1i128 << (bits - 1);
    let tw = scaled_range.plus(Interval { lo: half, hi: half }).signed_bits().max(bits + 1);
    let value = format!("{prefix}_v");
    writeln!(body, "    wire {} {prefix}_s = {scaled};", range(scaled_width)).unwrap();
    writeln!(
        body,
        "    wire {} {value} = {} + {};",
        range(tw),
        fit(&format!("{prefix}_s"), scaled_width, true, 0, tw),
        literal(half, tw)
    )
    .unwrap();
    let last = literal((1i128 << bits) - 1, bits);
    let too_big = if tw > bits + 1 { format!("|{value}[{}:{}]", tw - 2, bits) } else { "1'b0".into() };
    writeln!(
        body,
        "    wire {} {prefix} = {value}[{}] ? {} : ({too_big}) ? {last} : {value}[{}:0];",
        range(bits),
        tw - 1,
        literal(0, bits),
        bits - 1
    )
    .unwrap();
    prefix.to_string()
}

fn write_rom(
    body: &mut String,
    name: &str,
    entries: &[i64],
    bits: u32,
    width: u32,
    function: balerc_compiler::quant::model::TableFunction,
) {
    writeln!(body, "    // {function:?} table: entry k holds f(-R + k * 2R / N) as computed by the compiler").unwrap();
    writeln!(body, "    function {} {name};\n        input {} index;\n        case (index)", range(width), range(bits))
        .unwrap();
    for (k, &e) in entries.iter().enumerate() {
        writeln!(body, "            {}: {name} = {};", literal(k as i128, bits), literal(e as i128, width)).unwrap();
    }
    writeln!(body, "            default: {name} = {};\n        endcase\n    endfunction", literal(0, width)).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsp_products_take_a_stage_of_their_own_when_the_tree_would_not_fit_after_them() {
        assert_eq!(dsp_product_depth(None, 17), 0);
        assert_eq!(dsp_product_depth(Some(100), 17), DSP_PRODUCT_LEVELS);
        assert_eq!(dsp_product_depth(Some(5), 2), DSP_PRODUCT_LEVELS, "one adder level fits after the product");
        assert_eq!(dsp_product_depth(Some(5), 3), 5, "two adder levels do not");
        assert_eq!(dsp_product_depth(Some(5), 17), 5);
        assert_eq!(dsp_product_depth(Some(2), 1), 2);
    }
}

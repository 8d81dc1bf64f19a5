//! A dense or conv layer folded over R clocks: the layer captures its input, then in each of
//! R phases every output adds a share of its products into an accumulator.
//!
//! The products of output o are taken in order and dealt into slots: slot c computes product
//! `c * R + t` in phase t. A slot's input is a multiplexer over the phases, which every output
//! with the same input schedule shares (for a dense layer, all of them). Its weight changes
//! with the phase:
//! - with DSP slices, a multiplier by a small constant table indexed by the phase;
//! - with shift-add terms, one term per canonical-signed-digit position that any of the
//!   slot's weights uses: the slot's input, complemented in the phases where the digit is
//!   negative and zero where it is absent. The missing +1 of each complement is a constant
//!   of that phase, which joins the bias in a per-phase constant.
//!
//! Every phase's terms meet in an adder tree (pipelined like an unfolded layer's), and the
//! accumulator adds the tree's result modulo 2^A, where A bits hold every value the exact
//! sum can take: the intermediate sums may wrap, the last one cannot.
//!
//! Timing, for a sample whose input the layer sees in cycle s (`start`): the input is captured
//! at the end of s; phase t runs in cycle s + 1 + t; its partial sum leaves the tree D register
//! stages later and is accumulated at the end of that cycle; the output register loads at the
//! end of cycle s + R + D + 1. The latency is R + D + 2, and the layer can take a new sample
//! every R clocks.

use crate::csd;
use crate::layer::{activate, dsp_product_depth, linear_rows, require_exact, unpack, Context, Element};
use crate::text::{fit, literal, range};
use crate::tree::{sum_pipelined, Sum, Term};
use crate::Error;
use balerc_compiler::quant::model::{Layer, QuantizedModel};
use balerc_compiler::quant::range::Interval;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The valid signal that is high `cycles` clocks after a sample was accepted.
pub fn valid_at(cycles: usize) -> String {
    if cycles == 0 {
        "accepted".to_string()
    } else {
        format!("valid[{}]", cycles - 1)
    }
}

/// What the surrounding design needs of a folded layer.
pub struct Folded {
    /// Register stages inside the layer, its output register not counted: R + D + 1.
    pub inner_stages: u32,
    /// When the output register loads.
    pub load: String,
}

/// Emits the folded layer whose input holds its sample `offset` clocks after acceptance.
pub fn emit(
    model: &QuantizedModel,
    layer: &Layer,
    reuse: u32,
    offset: usize,
    cx: &mut Context,
) -> Result<Folded, Error> {
    let (linear, rows) = linear_rows(&layer.op).expect("only dense and conv layers fold");
    require_exact(linear, &layer.name)?;
    let input = &model.values[layer.inputs[0]];
    let result = model.values[layer.output].ty;
    let p = cx.prefix.clone();
    let r = reuse as usize;
    let phase_bits = usize::BITS - (r - 1).leading_zeros().min(usize::BITS - 1);
    let start = valid_at(offset);
    writeln!(
        cx.body,
        "    // {} '{}': {} x {} -> {} x {}, folded over {r} clocks",
        layer.op.kind(),
        layer.name,
        input.len(),
        input.ty,
        rows.products.len(),
        result
    )
    .unwrap();
    let in_bits = input.len() as u32 * input.ty.width;
    writeln!(
        cx.body,
        "    reg {} {p}_in;\n    always @(posedge clk) if ({start}) {p}_in <= {};",
        range(in_bits),
        cx.inputs[0]
    )
    .unwrap();
    writeln!(
        cx.body,
        "    reg {} {p}_phase;\n    always @(posedge clk) {p}_phase <= {start} ? {} : {p}_phase + {};",
        range(phase_bits),
        literal(0, phase_bits),
        literal(1, phase_bits)
    )
    .unwrap();
    cx.registers.bits += (in_bits + phase_bits) as u64;
    let elements = unpack(cx.body, &format!("{p}_in"), &p, input.ty, input.len());
    let mut phases = Phases { prefix: p.clone(), reuse: r, bits: phase_bits, ..Phases::default() };

    let acc_frac = linear.accumulator.frac_bits();
    let up = (acc_frac - input.ty.frac_bits() - linear.weight.ty.frac_bits()) as u32;
    let bias_up = (acc_frac - linear.bias.ty.frac_bits()) as u32;
    let slots = rows.products.iter().map(|row| row.len().div_ceil(r)).max().unwrap_or(0);
    let on_dsp = |o: usize, c: usize| cx.dsp.get(o).and_then(|row| row.get(c)).copied().unwrap_or(false);
    let any_dsp = (0..rows.products.len()).any(|o| (0..slots).any(|c| on_dsp(o, c)));
    let product_depth = if any_dsp { dsp_product_depth(cx.stages.levels, slots + 1) } else { 0 };
    let mut partials = Vec::with_capacity(rows.products.len());
    for (o, row) in rows.products.iter().enumerate() {
        let prefix = format!("{p}_o{o}");
        let bias = (linear.bias.codes[o / rows.per_channel] as i128) << bias_up;
        // The constant each phase adds: the bias once, and the complements' missing ones.
        let mut constants = vec![0i128; r];
        constants[0] = bias;
        let mut terms = Vec::new();
        for (c, slot) in row.chunks(r).enumerate() {
            let x = phases.input(cx.body, &elements, slot);
            let weights: Vec<i64> = (0..r).map(|t| slot.get(t).map_or(0, |&(_, w)| w)).collect();
            if on_dsp(o, c) {
                if let Some(term) = phases.product(cx.body, &x, &weights, up, &format!("{prefix}_c{c}")) {
                    cx.cost.dsp_products += 1;
                    terms.push(term.at_level(product_depth));
                }
            } else {
                terms.extend(phases.digit_terms(cx.body, &x, &weights, up, &mut constants));
            }
        }
        if let Some(term) = phases.constant(cx.body, &constants, &format!("{prefix}_k")) {
            terms.push(term);
        }
        let exact = row
            .iter()
            .fold(Interval { lo: bias, hi: bias }, |sum, &(i, w)| sum.plus(elements[i].range().scale(w).shifted(up)));
        let (partial, stages) =
            sum_pipelined(cx.body, &format!("{prefix}_s"), terms, cx.cost, cx.stages, &mut cx.registers);
        partials.push((prefix, partial, stages, exact));
    }
    // Every partial sum reaches its accumulator in the same cycle.
    let deepest = partials.iter().map(|&(_, _, stages, _)| stages).max().unwrap_or(0);
    let first = valid_at(offset + 1 + deepest as usize);
    let mut outputs = Vec::with_capacity(partials.len());
    for (prefix, partial, stages, exact) in partials {
        let mut name = partial.name;
        for _ in stages..deepest {
            name = cx.registers.delay(cx.body, &name, partial.width);
        }
        let width = exact.signed_bits();
        let acc = format!("{prefix}_acc");
        writeln!(
            cx.body,
            "    reg {} {acc};\n    always @(posedge clk) {acc} <= ({first} ? {} : {acc}) + {};",
            range(width),
            literal(0, width),
            fit(&name, partial.width, true, 0, width)
        )
        .unwrap();
        cx.cost.adders += 1;
        cx.cost.adder_bits += width as u64;
        cx.registers.bits += width as u64;
        let sum = Sum { name: acc, width, range: exact };
        outputs.push(activate(cx, linear, &sum, result, &prefix)?);
    }
    cx.cost.mux_luts += phases.luts;
    let packed: Vec<&str> = outputs.iter().rev().map(String::as_str).collect();
    writeln!(cx.body, "    assign {} = {{{}}};", cx.output, packed.join(", ")).unwrap();
    Ok(Folded { inner_stages: reuse + deepest + 1, load: valid_at(offset + r + deepest as usize + 1) })
}

/// Wires that depend on the phase, each written once per layer and shared by every output.
#[derive(Default)]
struct Phases {
    prefix: String,
    reuse: usize,
    /// Width of the phase counter.
    bits: u32,
    /// Input multiplexers by the input each phase takes.
    inputs: HashMap<Vec<usize>, String>,
    /// One-bit selects by the phases in which they are high.
    selects: HashMap<Vec<bool>, String>,
    /// Complemented and gated inputs by (input, enabled phases, complemented phases).
    gated: HashMap<(String, Vec<bool>, Vec<bool>), Element>,
    count: usize,
    /// The estimated LUTs of the multiplexers, tables and gates written so far.
    luts: u64,
}

/// LUT6s per bit of a multiplexer over `inputs` signals: a tree of 4:1 multiplexers, each
/// one LUT6 (four data and two select inputs).
pub(crate) fn mux_luts(inputs: usize) -> u64 {
    (inputs.max(1) as u64 - 1).div_ceil(3).max(1)
}

/// LUT6s per bit of a constant table indexed by a `bits`-bit phase: one up to six bits,
/// then one per 64 entries and the multiplexers between them.
pub(crate) fn table_luts(bits: u32) -> u64 {
    if bits <= 6 {
        1
    } else {
        let parts = 1usize << (bits - 6);
        parts as u64 + mux_luts(parts)
    }
}

impl Phases {
    fn name(&mut self, kind: &str) -> String {
        self.count += 1;
        format!("{}_{kind}{}", self.prefix, self.count)
    }

    /// `case (phase)` over `values`, the phases past them zero. `data` says whether the
    /// values are signals (a multiplexer) or constants (a table of the phase), for the LUTs
    /// it is estimated to take.
    fn case(&mut self, body: &mut String, name: &str, width: u32, values: &[String], data: bool) {
        self.luts += width as u64 * if data { mux_luts(values.len()) } else { table_luts(self.bits) };
        writeln!(body, "    reg {} {name};\n    always @* begin\n        case ({}_phase)", range(width), self.prefix)
            .unwrap();
        for (t, value) in values.iter().enumerate() {
            writeln!(body, "            {}: {name} = {value};", literal(t as i128, self.bits)).unwrap();
        }
        writeln!(body, "            default: {name} = {};\n        endcase\n    end", literal(0, width)).unwrap();
    }

    /// The slot's input in each phase: a multiplexer, or the element itself when every phase
    /// reads the same one.
    fn input(&mut self, body: &mut String, elements: &[Element], slot: &[(usize, i64)]) -> Element {
        // A phase past the slot's products has a zero weight, so it may read any input: it
        // reads the slot's last one, which leaves fewer inputs to choose from.
        let last = slot[slot.len() - 1].0;
        let schedule: Vec<usize> = (0..self.reuse).map(|t| slot.get(t).map_or(last, |&(i, _)| i)).collect();
        let ty = elements[slot[0].0].ty;
        if schedule.iter().all(|&i| i == schedule[0]) {
            return Element { name: elements[schedule[0]].name.clone(), ty };
        }
        if let Some(name) = self.inputs.get(&schedule) {
            return Element { name: name.clone(), ty };
        }
        let name = self.name("m");
        let values: Vec<String> = schedule.iter().map(|&i| elements[i].name.clone()).collect();
        self.case(body, &name, ty.width, &values, true);
        self.inputs.insert(schedule, name.clone());
        Element { name, ty }
    }

    /// A one-bit wire that is high in the phases marked.
    fn select(&mut self, body: &mut String, phases: &[bool]) -> String {
        if let Some(name) = self.selects.get(phases) {
            return name.clone();
        }
        let name = self.name("s");
        let mask = phases.iter().enumerate().filter(|&(_, &on)| on).fold(0u128, |m, (t, _)| m | 1 << t);
        let table = 1u32 << self.bits;
        let mask_text = if table <= 128 {
            literal(mask as i128, table)
        } else {
            // Phases past 128: the table bit by bit, highest first.
            let bits: String =
                (0..table as usize).rev().map(|t| if phases.get(t) == Some(&true) { '1' } else { '0' }).collect();
            format!("{table}'b{bits}")
        };
        self.luts += table_luts(self.bits);
        writeln!(
            body,
            "    wire {} {name}_t = {mask_text};\n    wire {name} = {name}_t[{}_phase];",
            range(table),
            self.prefix
        )
        .unwrap();
        self.selects.insert(phases.to_vec(), name.clone());
        name
    }

    /// `x * w[phase]` on a multiplier whose weight comes from a table; None when every weight
    /// is zero.
    fn product(&mut self, body: &mut String, x: &Element, weights: &[i64], up: u32, name: &str) -> Option<Term> {
        if weights.iter().all(|&w| w == 0) {
            return None;
        }
        let range = weights.iter().map(|&w| x.range().scale(w)).reduce(Interval::hull).expect("a phase");
        let width = range.signed_bits();
        let weight_range = weights.iter().map(|&w| Interval::point(w)).reduce(Interval::hull).expect("a phase");
        let weight_width = weight_range.signed_bits();
        let weight = if weights.iter().all(|&w| w == weights[0]) {
            literal(weights[0] as i128, width)
        } else {
            let table = format!("{name}_w");
            let values: Vec<String> = weights.iter().map(|&w| literal(w as i128, weight_width)).collect();
            self.case(body, &table, weight_width, &values, false);
            fit(&table, weight_width, true, 0, width)
        };
        let product = format!("{name}_p");
        // Signed, so that synthesis sees the sign extension and fits each product into one
        // DSP slice.
        writeln!(
            body,
            "    wire {} {product} = $signed({}) * $signed({weight});",
            crate::text::range(width),
            fit(&x.name, x.ty.width, x.ty.signed, 0, width)
        )
        .unwrap();
        Some(Term::wire(product, width, true, range, up, false))
    }

    /// The shift-add terms of `x * w[phase]`: one per digit position any weight uses. The
    /// ones that complements miss are added to `constants`, by phase.
    fn digit_terms(
        &mut self,
        body: &mut String,
        x: &Element,
        weights: &[i64],
        up: u32,
        constants: &mut [i128],
    ) -> Vec<Term> {
        // digits[k][t]: the digit at 2^k of the weight of phase t.
        let mut digits: BTreeMap<u32, Vec<i8>> = BTreeMap::new();
        for (t, &w) in weights.iter().enumerate() {
            for (k, negative) in csd::digits(w) {
                digits.entry(k).or_insert_with(|| vec![0; weights.len()])[t] = if negative { -1 } else { 1 };
            }
        }
        let mut terms = Vec::with_capacity(digits.len());
        for (k, by_phase) in digits {
            let shift = k + up;
            if by_phase.iter().all(|&d| d == by_phase[0]) {
                terms.push(Term::wire(x.name.clone(), x.ty.width, x.ty.signed, x.range(), shift, by_phase[0] < 0));
                continue;
            }
            for (t, &d) in by_phase.iter().enumerate() {
                if d < 0 {
                    constants[t] += 1 << shift;
                }
            }
            let enabled: Vec<bool> = by_phase.iter().map(|&d| d != 0).collect();
            let complemented: Vec<bool> = by_phase.iter().map(|&d| d < 0).collect();
            let g = self.gated(body, x, enabled, complemented);
            terms.push(Term::wire(g.name.clone(), g.ty.width, true, g_range(x, &by_phase), shift, false));
        }
        terms
    }

    /// x, ~x or zero by phase, as a signed wire one bit wider than x when x is unsigned.
    fn gated(&mut self, body: &mut String, x: &Element, enabled: Vec<bool>, complemented: Vec<bool>) -> Element {
        let key = (x.name.clone(), enabled, complemented);
        if let Some(g) = self.gated.get(&key) {
            return Element { name: g.name.clone(), ty: g.ty };
        }
        let (_, enabled, complemented) = &key;
        let width = x.ty.width + u32::from(!x.ty.signed);
        let mut value = fit(&x.name, x.ty.width, x.ty.signed, 0, width);
        if complemented.iter().any(|&c| c) {
            let select = self.select(body, complemented);
            value = format!("({value} ^ {{{width}{{{select}}}}})");
        }
        if enabled.iter().any(|&e| !e) {
            let select = self.select(body, enabled);
            value = format!("({value} & {{{width}{{{select}}}}})");
        }
        let name = self.name("g");
        writeln!(body, "    wire {} {name} = {value};", range(width)).unwrap();
        self.luts += width as u64;
        let ty = balerc_compiler::fixed::FixedType { width, signed: true, ..x.ty };
        self.gated.insert(key.clone(), Element { name: name.clone(), ty });
        Element { name, ty }
    }

    /// The per-phase constants as one term; None when all are zero.
    fn constant(&mut self, body: &mut String, constants: &[i128], name: &str) -> Option<Term> {
        if constants.iter().all(|&c| c == 0) {
            return None;
        }
        if constants.iter().all(|&c| c == constants[0]) {
            return Some(Term::constant(constants[0]));
        }
        // Trailing zeros every phase shares become the term's shift.
        let shift = constants.iter().filter(|&&c| c != 0).map(|c| c.trailing_zeros()).min().unwrap_or(0);
        let scaled: Vec<i128> = constants.iter().map(|&c| c >> shift).collect();
        let range = scaled.iter().map(|&c| Interval { lo: c, hi: c }).reduce(Interval::hull).expect("a phase");
        let width = range.signed_bits();
        let values: Vec<String> = scaled.iter().map(|&c| literal(c, width)).collect();
        self.case(body, name, width, &values, false);
        Some(Term::wire(name.to_string(), width, true, range, shift, false))
    }
}

/// The values of a gated input: x where a digit is +1, ~x = -x - 1 where it is -1, zero
/// where there is none.
fn g_range(x: &Element, by_phase: &[i8]) -> Interval {
    let r = x.range();
    by_phase
        .iter()
        .map(|&d| match d {
            1 => r,
            -1 => Interval { lo: -r.hi - 1, hi: -r.lo - 1 },
            _ => Interval { lo: 0, hi: 0 },
        })
        .reduce(Interval::hull)
        .expect("a phase")
}

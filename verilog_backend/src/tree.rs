//! Sums of shifted, signed terms as adder trees of the least depth, in which every adder
//! is only as wide as interval analysis proves its result needs.

use crate::text::{fit, fit_above, literal, range};
use balerc_compiler::quant::range::Interval;
use std::fmt::Write;

/// One term of a sum: `±(source << shift)`, or a constant.
#[derive(Debug, Clone)]
pub struct Term {
    pub source: Source,
    pub shift: u32,
    pub negative: bool,
    /// The values `source << shift` can take, before the sign is applied.
    pub range: Interval,
    /// Adders between the layer's input and this term's value.
    pub level: u32,
}

#[derive(Debug, Clone)]
pub enum Source {
    Wire { name: String, width: u32, signed: bool },
    Constant(i128),
}

impl Term {
    pub fn wire(name: String, width: u32, signed: bool, range: Interval, shift: u32, negative: bool) -> Self {
        Term { source: Source::Wire { name, width, signed }, shift, negative, range: range.shifted(shift), level: 0 }
    }

    /// The term with its value ready after `level` adders.
    pub fn at_level(self, level: u32) -> Self {
        Term { level, ..self }
    }

    /// A constant whose trailing zero bits become its shift, so adders skip them.
    pub fn constant(value: i128) -> Self {
        let shift = if value == 0 { 0 } else { value.trailing_zeros() };
        Term {
            source: Source::Constant(value >> shift),
            shift,
            negative: false,
            range: Interval { lo: value, hi: value },
            level: 0,
        }
    }

    /// The term's magnitude (before its sign) as a `width`-bit expression.
    fn expression(&self, width: u32) -> String {
        self.bits_from(0, width)
    }

    /// floor(magnitude / 2^base) as a `width`-bit expression.
    fn bits_from(&self, base: u32, width: u32) -> String {
        match &self.source {
            Source::Wire { name, width: from, signed } if self.shift >= base => {
                fit(name, *from, *signed, self.shift - base, width)
            }
            Source::Wire { name, width: from, signed } => fit_above(name, *from, *signed, base - self.shift, width),
            Source::Constant(c) => literal((c << self.shift) >> base, width),
        }
    }
}

/// Counts of what the trees cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    pub adders: u64,
    pub adder_bits: u64,
    /// Constant multiplications written as `*`, one DSP slice each.
    pub dsp_products: u64,
    /// LUTs, estimated, of what folded layers select by phase (input multiplexers, weight
    /// and constant tables, gated inputs) and of streamed designs' weight tables and shift
    /// registers.
    pub mux_luts: u64,
}

/// A finished sum: a wire holding the exact signed value.
pub struct Sum {
    pub name: String,
    pub width: u32,
    pub range: Interval,
}

/// Pipeline registers shared within a layer: a wire delayed by one clock, created once.
#[derive(Default)]
pub struct Registers {
    delayed: std::collections::HashMap<String, String>,
    pub bits: u64,
    /// A signal that must be high for the registers to load (a stage that can stall).
    pub enable: Option<String>,
}

impl Registers {
    /// Registers that load only while `enable` is high.
    pub fn enabled_by(enable: String) -> Self {
        Registers { enable: Some(enable), ..Registers::default() }
    }

    /// The name of a register holding `name` (of `width` bits) one clock later.
    pub fn delay(&mut self, body: &mut String, name: &str, width: u32) -> String {
        if let Some(existing) = self.delayed.get(name) {
            return existing.clone();
        }
        let register = format!("{name}_r");
        let when = self.enable.as_ref().map_or(String::new(), |e| format!("if ({e}) "));
        writeln!(
            body,
            "    reg {} {register};\n    always @(posedge clk) {when}{register} <= {name};",
            range_decl(width)
        )
        .unwrap();
        self.bits += width as u64;
        self.delayed.insert(name.to_string(), register.clone());
        register
    }
}

/// Pipelining of adder trees: a register stage after every `levels` adder levels.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    pub levels: Option<u32>,
}

/// Emits wires computing the sum of `terms` into `body`, named `{prefix}_{k}`.
pub fn sum(body: &mut String, prefix: &str, terms: Vec<Term>, cost: &mut Cost) -> Sum {
    sum_pipelined(body, prefix, terms, cost, Stages { levels: None }, &mut Registers::default()).0
}

/// As `sum`, with registers after every `stages.levels` adder levels, where each term's
/// level (shared subexpressions are already some adders deep) counts towards the first
/// stage. Returns the sum and the number of register stages it passed, which is
/// `stages_passed` of the terms' levels.
pub fn sum_pipelined(
    body: &mut String,
    prefix: &str,
    terms: Vec<Term>,
    cost: &mut Cost,
    stages: Stages,
    registers: &mut Registers,
) -> (Sum, u32) {
    // Constants are added up at compile time.
    let (constants, mut pending): (Vec<Term>, Vec<Term>) =
        terms.into_iter().partition(|t| matches!(t.source, Source::Constant(_)));
    let constant: i128 = constants
        .iter()
        .map(|t| {
            if let Source::Constant(c) = t.source {
                if t.negative {
                    -(c << t.shift)
                } else {
                    c << t.shift
                }
            } else {
                0
            }
        })
        .sum();
    if constant != 0 || pending.is_empty() {
        pending.push(Term::constant(constant));
    }
    let mut count = 0;
    let mut level = pending.iter().map(|t| t.level).min().unwrap_or(0);
    let mut passed = 0;
    while pending.len() > 1 {
        if is_cut(level, stages) {
            // Even a term still to come: shared subexpressions have no registers inside,
            // so it belongs to the stage before the cut.
            pending = pending.into_iter().map(|t| register(body, t, registers)).collect();
            passed += 1;
        }
        level += 1;
        // The terms ready by now meet in pairs, which reaches the least depth the terms'
        // levels allow; narrow terms meet first, which keeps the adders small.
        let last = pending.len() == 2;
        let (mut ready, mut next): (Vec<Term>, Vec<Term>) = pending.into_iter().partition(|t| t.level < level);
        ready.sort_by_key(|t| t.range.signed_bits());
        for pair in ready.chunks(2) {
            match pair {
                [a, b] => {
                    let name = format!("{prefix}_{count}");
                    count += 1;
                    // The last adder keeps the root positive: negating it would cost another.
                    next.push(add(body, name, a, b, !last, cost));
                }
                [single] => next.push(single.clone()),
                _ => unreachable!(),
            }
        }
        pending = next;
    }
    let root = pending.pop().expect("one term remains");
    (finish(body, prefix, root, cost), passed)
}

/// Whether a register stage follows adder level `level`.
fn is_cut(level: u32, stages: Stages) -> bool {
    level > 0 && stages.levels.is_some_and(|k| level.is_multiple_of(k))
}

/// The register stages `sum_pipelined` passes for terms ready after `levels` adders each
/// (a sum's nonzero constant counts as one more term at level 0). Pairing every ready
/// term at each level finishes at the least depth any adder tree can: the smallest `d`
/// with the sum of 2^level over the terms at most 2^d.
pub fn stages_passed(levels: &[u32], stages: Stages) -> u32 {
    if levels.len() < 2 {
        return 0;
    }
    let weight: u128 = levels.iter().map(|&l| 1u128 << l).sum();
    let depth = u128::BITS - (weight - 1).leading_zeros();
    let first = *levels.iter().min().expect("two levels");
    (first..depth).filter(|&l| is_cut(l, stages)).count() as u32
}

/// The term one clock later (constants need no register).
fn register(body: &mut String, term: Term, registers: &mut Registers) -> Term {
    match &term.source {
        Source::Constant(_) => term,
        Source::Wire { name, width, signed } => {
            let delayed = registers.delay(body, name, *width);
            Term { source: Source::Wire { name: delayed, width: *width, signed: *signed }, ..term }
        }
    }
}

/// a + b as a new wire; a term that is negative in both stays negative. The shift both
/// operands share stays on the result, so the adder skips those bits. Below the larger
/// shift only the less-shifted operand has bits: when it is added (not subtracted, which
/// would carry) they pass through, and the adder spans only the bits above them. With
/// `may_negate`, p - n where n is less shifted becomes -(n - p), so that n's bits pass.
pub fn add(body: &mut String, name: String, a: &Term, b: &Term, may_negate: bool, cost: &mut Cost) -> Term {
    let (first, second, subtract, negative) = match (a.negative, b.negative) {
        (x, y) if x == y => (a, b, false, x),
        _ => {
            let (p, n) = if a.negative { (b, a) } else { (a, b) };
            if may_negate && n.shift < p.shift {
                (n, p, true, true)
            } else {
                (p, n, true, false)
            }
        }
    };
    let combine = |x: Interval, y: Interval| if subtract { x.minus(y) } else { x.plus(y) };
    let shift = first.shift.min(second.shift);
    let low = match first.shift.cmp(&second.shift) {
        std::cmp::Ordering::Less => Some(first),
        std::cmp::Ordering::Greater if !subtract => Some(second),
        _ => None,
    };
    let base = if low.is_some() { first.shift.max(second.shift) } else { shift };
    let adder = combine(floor(first.range, base), floor(second.range, base)).signed_bits();
    let op = if subtract { "-" } else { "+" };
    let high = format!("{} {op} {}", first.bits_from(base, adder), second.bits_from(base, adder));
    let value = match low {
        Some(low) => format!("{{{high}, {}}}", low.bits_from(shift, base - shift)),
        None => high,
    };
    let width = adder + base - shift;
    writeln!(body, "    wire {} {name} = {value};", range_decl(width)).unwrap();
    cost.adders += 1;
    cost.adder_bits += adder as u64;
    let range = combine(first.range, second.range);
    let level = first.level.max(second.level) + 1;
    Term { source: Source::Wire { name, width, signed: true }, shift, negative, range, level }
}

/// The values floor(v / 2^shift) takes for v in `range`.
fn floor(range: Interval, shift: u32) -> Interval {
    Interval { lo: range.lo >> shift, hi: range.hi >> shift }
}

fn range_decl(width: u32) -> String {
    range(width)
}

/// The root as a plain signed wire (negated or shifted if it still carries either).
fn finish(body: &mut String, prefix: &str, root: Term, cost: &mut Cost) -> Sum {
    let range = if root.negative { Interval { lo: -root.range.hi, hi: -root.range.lo } } else { root.range };
    let width = range.signed_bits();
    if let (Source::Wire { name, width: w, .. }, 0, false) = (&root.source, root.shift, root.negative) {
        if *w == width {
            return Sum { name: name.clone(), width, range };
        }
    }
    let name = format!("{prefix}_sum");
    // A negation is an adder over the bits above the shift; the zeros below it stay.
    let shift = root.shift.min(width - 1);
    let value = match (root.negative, shift) {
        (false, _) => root.expression(width),
        (true, 0) => format!("-{}", root.expression(width)),
        (true, s) => format!("{{-{}, {s}'b0}}", root.bits_from(s, width - s)),
    };
    if root.negative {
        cost.adders += 1;
        cost.adder_bits += (width - shift) as u64;
    }
    writeln!(body, "    wire {} {name} = {value};", range_decl(width)).unwrap();
    Sum { name, width, range }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `±(name << shift)` for a signed 8-bit wire.
    fn byte(name: &str, shift: u32, negative: bool) -> Term {
        Term::wire(name.into(), 8, true, Interval { lo: -128, hi: 127 }, shift, negative)
    }

    fn added(a: &Term, b: &Term, may_negate: bool) -> (String, Term, Cost) {
        let (mut body, mut cost) = (String::new(), Cost::default());
        let term = add(&mut body, "n".into(), a, b, may_negate, &mut cost);
        (body, term, cost)
    }

    #[test]
    fn a_shift_both_operands_share_stays_on_the_result() {
        let (body, term, cost) = added(&byte("x", 2, false), &byte("y", 2, false), false);
        assert_eq!(body, "    wire [8:0] n = {{1{x[7]}}, x} + {{1{y[7]}}, y};\n");
        assert_eq!((term.shift, term.negative, term.range), (2, false, Interval { lo: -1024, hi: 1016 }));
        assert_eq!(cost, Cost { adders: 1, adder_bits: 9, dsp_products: 0, mux_luts: 0 });
    }

    #[test]
    fn low_bits_of_the_less_shifted_operand_pass_through() {
        // x << 3 + y << 5: bits 3 and 4 are x's, the adder starts at bit 5.
        let (body, term, cost) = added(&byte("x", 3, false), &byte("y", 5, false), false);
        assert_eq!(body, "    wire [10:0] n = {{{3{x[7]}}, x[7:2]} + {{1{y[7]}}, y}, x[1:0]};\n");
        assert_eq!((term.shift, term.range), (3, Interval { lo: -128 * 8 - 128 * 32, hi: 127 * 8 + 127 * 32 }));
        assert_eq!(cost, Cost { adders: 1, adder_bits: 9, dsp_products: 0, mux_luts: 0 });
    }

    #[test]
    fn a_subtracted_low_operand_is_negated_around_when_the_sign_may_stay() {
        // x << 4 - y << 1: subtracting y would carry through its low bits.
        let (x, y) = (byte("x", 4, false), byte("y", 1, true));
        let (body, term, cost) = added(&x, &y, false);
        assert_eq!(body, "    wire [11:0] n = {{1{x[7]}}, x, 3'b0} - {{4{y[7]}}, y};\n");
        assert_eq!((term.shift, term.negative), (1, false));
        assert_eq!(cost.adder_bits, 12);
        // -((y << 1) - (x << 4)): y's low bits pass, the adder is three bits narrower.
        let (body, term, cost) = added(&x, &y, true);
        assert_eq!(body, "    wire [11:0] n = {{{4{y[7]}}, y[7:3]} - {{1{x[7]}}, x}, y[2:0]};\n");
        assert_eq!(
            (term.shift, term.negative, term.range),
            (1, true, Interval { lo: -256 - 127 * 16, hi: 254 + 128 * 16 })
        );
        assert_eq!(cost.adder_bits, 9);
    }

    #[test]
    fn a_negative_root_is_negated_above_its_shift_and_counted() {
        let (mut body, mut cost) = (String::new(), Cost::default());
        let s = sum(&mut body, "s", vec![byte("x", 2, true), byte("y", 2, true)], &mut cost);
        assert!(body.ends_with("    wire [11:0] s_sum = {-{{1{s_0[8]}}, s_0}, 2'b0};\n"), "{body}");
        assert_eq!((s.width, s.range), (12, Interval { lo: -1016, hi: 1024 }));
        assert_eq!(cost, Cost { adders: 2, adder_bits: 9 + 10, dsp_products: 0, mux_luts: 0 });
    }

    #[test]
    fn terms_that_are_ready_early_are_added_before_the_later_ones_arrive() {
        // Four terms at level 0 and one three adders deep: the four are summed by level 2,
        // and the sum meets the late term at level 4, not 3 + 3.
        let mut terms: Vec<Term> = ["a", "b", "c", "d"].iter().map(|n| byte(n, 0, false)).collect();
        terms.push(byte("x", 0, false).at_level(3));
        let stages = |k| Stages { levels: Some(k) };
        let (mut body, mut cost) = (String::new(), Cost::default());
        let (_, passed) = sum_pipelined(&mut body, "s", terms.clone(), &mut cost, stages(4), &mut Registers::default());
        assert_eq!(passed, 0, "no register after level 4: the sum is done there\n{body}");
        assert_eq!(cost.adders, 4);
        // With a register after every two levels, the partial sum and x both wait in one.
        let mut body = String::new();
        let mut registers = Registers::default();
        let (_, passed) = sum_pipelined(&mut body, "s", terms, &mut cost, stages(2), &mut registers);
        assert_eq!(passed, 1);
        assert!(body.contains("s_2_r <= s_2;") && body.contains("x_r <= x;"), "{body}");
        assert!(
            body.lines().last().unwrap().contains("s_2_r") && body.lines().last().unwrap().contains("x_r"),
            "{body}"
        );
    }

    #[test]
    fn stages_passed_counts_the_registers_sum_pipelined_inserts() {
        for levels_per_stage in 1..=4 {
            let stages = Stages { levels: Some(levels_per_stage) };
            // Every multiset of up to six levels below 4, as digits of a base-4 counter.
            for code in 0..4u32.pow(6) {
                for len in 1..=6 {
                    let levels: Vec<u32> = (0..len).map(|i| code / 4u32.pow(i) % 4).collect();
                    let terms = levels.iter().enumerate().map(|(i, &l)| byte(&format!("x{i}"), 0, false).at_level(l));
                    let (mut body, mut cost) = (String::new(), Cost::default());
                    let (_, passed) =
                        sum_pipelined(&mut body, "s", terms.collect(), &mut cost, stages, &mut Registers::default());
                    assert_eq!(
                        passed,
                        stages_passed(&levels, stages),
                        "{levels:?} at {levels_per_stage} levels a stage"
                    );
                }
            }
        }
    }

    #[test]
    fn constants_carry_their_trailing_zeros_as_a_shift() {
        let c = Term::constant(-40);
        assert!(matches!(c.source, Source::Constant(-5)));
        assert_eq!((c.shift, c.expression(8)), (3, "8'hd8".to_string()));
    }
}

//! Sums of shifted, signed terms as balanced adder trees in which every adder is only
//! as wide as interval analysis proves its result needs.

use crate::text::{fit, literal, range};
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
}

#[derive(Debug, Clone)]
pub enum Source {
    Wire { name: String, width: u32, signed: bool },
    Constant(i128),
}

impl Term {
    pub fn wire(name: String, width: u32, signed: bool, range: Interval, shift: u32, negative: bool) -> Self {
        Term { source: Source::Wire { name, width, signed }, shift, negative, range: range.shifted(shift) }
    }

    pub fn constant(value: i128) -> Self {
        Term { source: Source::Constant(value), shift: 0, negative: false, range: Interval { lo: value, hi: value } }
    }

    /// The term's magnitude (before its sign) as a `width`-bit expression.
    fn expression(&self, width: u32) -> String {
        match &self.source {
            Source::Wire { name, width: from, signed } => fit(name, *from, *signed, self.shift, width),
            Source::Constant(c) => literal(c << self.shift, width),
        }
    }
}

/// Counts of what the trees cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    pub adders: u64,
    pub adder_bits: u64,
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
}

impl Registers {
    /// The name of a register holding `name` (of `width` bits) one clock later.
    pub fn delay(&mut self, body: &mut String, name: &str, width: u32) -> String {
        if let Some(existing) = self.delayed.get(name) {
            return existing.clone();
        }
        let register = format!("{name}_r");
        writeln!(body, "    reg {} {register};\n    always @(posedge clk) {register} <= {name};", range_decl(width))
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

/// Emits wires computing the sum of `terms` into `body`, named `{prefix}_{k}`, with
/// registers after every `stages.levels` adder levels. Returns the sum and the number of
/// register stages it passed.
pub fn sum(body: &mut String, prefix: &str, terms: Vec<Term>, cost: &mut Cost) -> Sum {
    sum_pipelined(body, prefix, terms, 0, cost, Stages { levels: None }, &mut Registers::default()).0
}

/// As `sum`, where the terms are already `depth` adder levels deep (shared
/// subexpressions), counting towards the first stage.
pub fn sum_pipelined(
    body: &mut String,
    prefix: &str,
    terms: Vec<Term>,
    depth: u32,
    cost: &mut Cost,
    stages: Stages,
    registers: &mut Registers,
) -> (Sum, u32) {
    // Constants are added up at compile time.
    let (constants, mut level): (Vec<Term>, Vec<Term>) =
        terms.into_iter().partition(|t| matches!(t.source, Source::Constant(_)));
    let constant: i128 = constants
        .iter()
        .map(|t| {
            if let Source::Constant(c) = t.source {
                if t.negative {
                    -c
                } else {
                    c
                }
            } else {
                0
            }
        })
        .sum();
    if constant != 0 || level.is_empty() {
        level.push(Term::constant(constant));
    }
    let mut count = 0;
    let mut depth = depth;
    let mut passed = 0;
    if depth > 0 && stages.levels.is_some_and(|k| depth.is_multiple_of(k)) && level.len() > 1 {
        level = level.into_iter().map(|t| register(body, t, registers)).collect();
        passed += 1;
    }
    while level.len() > 1 {
        // Narrow terms meet first, which keeps the adders of the lower levels small.
        level.sort_by_key(|t| t.range.signed_bits());
        let mut next = Vec::with_capacity(level.len() / 2 + 1);
        let mut pairs = level.chunks(2);
        for pair in &mut pairs {
            match pair {
                [a, b] => {
                    let name = format!("{prefix}_{count}");
                    count += 1;
                    next.push(add(body, name, a, b, cost));
                }
                [single] => next.push(single.clone()),
                _ => unreachable!(),
            }
        }
        level = next;
        depth += 1;
        if stages.levels.is_some_and(|k| depth.is_multiple_of(k)) && level.len() > 1 {
            level = level.into_iter().map(|t| register(body, t, registers)).collect();
            passed += 1;
        }
    }
    let root = level.pop().expect("one term remains");
    (finish(body, prefix, root), passed)
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

/// a + b as a new wire; a term that is negative in both stays negative.
fn add(body: &mut String, name: String, a: &Term, b: &Term, cost: &mut Cost) -> Term {
    let (range, op, first, second, negative) = match (a.negative, b.negative) {
        (x, y) if x == y => (a.range.plus(b.range), "+", a, b, x),
        (false, true) => (a.range.minus(b.range), "-", a, b, false),
        _ => (b.range.minus(a.range), "-", b, a, false),
    };
    let width = range.signed_bits();
    writeln!(
        body,
        "    wire {} {name} = {} {op} {};",
        range_decl(width),
        first.expression(width),
        second.expression(width)
    )
    .unwrap();
    cost.adders += 1;
    cost.adder_bits += width as u64;
    Term { source: Source::Wire { name, width, signed: true }, shift: 0, negative, range }
}

fn range_decl(width: u32) -> String {
    range(width)
}

/// The root as a plain signed wire (negated or shifted if it still carries either).
fn finish(body: &mut String, prefix: &str, root: Term) -> Sum {
    let range = if root.negative { Interval { lo: -root.range.hi, hi: -root.range.lo } } else { root.range };
    let width = range.signed_bits();
    if let (Source::Wire { name, width: w, .. }, 0, false) = (&root.source, root.shift, root.negative) {
        if *w == width {
            return Sum { name: name.clone(), width, range };
        }
    }
    let name = format!("{prefix}_sum");
    let sign = if root.negative { "-" } else { "" };
    writeln!(body, "    wire {} {name} = {sign}{};", range_decl(width), root.expression(width)).unwrap();
    Sum { name, width, range }
}

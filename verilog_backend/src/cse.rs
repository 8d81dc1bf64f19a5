//! Common subexpressions across the shift-add sums of one layer: a pair of terms
//! `±(a << i) ± (b << j)` that several outputs share is computed once as a new signal
//! `(a << ·) ± (b << ·)`, and every output adds that signal instead of the pair. The most
//! frequent pair goes first (Hartley's greedy method), with pair counts kept up to date
//! incrementally so that large layers stay fast.

use balerc_compiler::quant::range::Interval;
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A value the sums can read: an input element or a shared subexpression.
#[derive(Debug, Clone)]
pub struct Signal {
    pub range: Interval,
    /// Adders between the layer's inputs and this signal.
    pub level: u32,
}

/// `±(signal << shift)` in one output's sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub signal: usize,
    pub shift: u32,
    pub negative: bool,
}

/// A shared subexpression: `(a << a_shift) ± (b << b_shift)`.
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub signal: usize,
    pub a: usize,
    pub a_shift: u32,
    pub b: usize,
    pub b_shift: u32,
    pub subtract: bool,
}

/// A pair pattern: signals a <= b, b's shift minus a's, and whether their signs agree.
type Key = (usize, usize, i64, bool);

fn key(t: &Term, u: &Term) -> Option<Key> {
    let (first, second) = if (t.signal, t.shift) <= (u.signal, u.shift) { (t, u) } else { (u, t) };
    if first.signal == second.signal && first.shift == second.shift {
        return None;
    }
    Some((first.signal, second.signal, second.shift as i64 - first.shift as i64, first.negative == second.negative))
}

struct Counts {
    counts: HashMap<Key, usize>,
    heap: BinaryHeap<(usize, Reverse<Key>)>,
}

impl Counts {
    fn change(&mut self, key: Key, up: bool) {
        let count = self.counts.entry(key).or_insert(0);
        if up {
            *count += 1;
        } else {
            *count -= 1;
        }
        // The heap holds stale entries too; `best` skips those whose count moved on.
        // Only pairs seen twice or more can be shared.
        if *count >= 2 {
            self.heap.push((*count, Reverse(key)));
        }
    }

    /// The most frequent pair still present at least twice.
    fn best(&mut self) -> Option<Key> {
        while let Some((count, Reverse(key))) = self.heap.pop() {
            if count >= 2 && self.counts.get(&key) == Some(&count) {
                return Some(key);
            }
        }
        None
    }
}

/// Rewrites `rows` (one sum per output) to share subexpressions; new signals are appended
/// to `signals` and defined, in order, by the returned definitions. Signals at
/// `max_level` adders deep are not combined further, which bounds the logic depth.
pub fn eliminate(signals: &mut Vec<Signal>, rows: &mut [Vec<Term>], max_level: u32) -> Vec<Definition> {
    let eligible = |signals: &Vec<Signal>, t: &Term| signals[t.signal].level < max_level;
    let mut counts = Counts { counts: HashMap::default(), heap: BinaryHeap::new() };
    for row in rows.iter() {
        for (i, t) in row.iter().enumerate() {
            for u in &row[i + 1..] {
                if eligible(signals, t) && eligible(signals, u) {
                    if let Some(k) = key(t, u) {
                        *counts.counts.entry(k).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    // One heap entry per shareable pair to start with; later changes push their own.
    counts.heap = counts.counts.iter().filter(|(_, &c)| c >= 2).map(|(&k, &c)| (c, Reverse(k))).collect();
    // The rows each signal appears in (entries may go stale; replace_pairs checks).
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); signals.len()];
    for (r, row) in rows.iter().enumerate() {
        for t in row {
            if rows_of[t.signal].last() != Some(&r) {
                rows_of[t.signal].push(r);
            }
        }
    }
    let mut definitions = Vec::new();
    while let Some((a, b, d, same)) = counts.best() {
        let signal = signals.len();
        let (a_shift, b_shift) = (d.min(0).unsigned_abs() as u32, d.max(0) as u32);
        let (ra, rb) = (signals[a].range.shifted(a_shift), signals[b].range.shifted(b_shift));
        let range = if same { ra.plus(rb) } else { ra.minus(rb) };
        let level = signals[a].level.max(signals[b].level) + 1;
        signals.push(Signal { range, level });
        definitions.push(Definition { signal, a, a_shift, b, b_shift, subtract: !same });
        let candidates = if rows_of[a].len() <= rows_of[b].len() { rows_of[a].clone() } else { rows_of[b].clone() };
        let mut holders = Vec::new();
        for r in candidates {
            if replace_pairs(&mut rows[r], (a, b, d, same), signal, signals, max_level, &mut counts) {
                holders.push(r);
            }
        }
        holders.dedup();
        rows_of.push(holders);
    }
    definitions
}

/// Replaces every non-overlapping occurrence of the pair `key` in one row by `signal`;
/// returns whether there was any.
fn replace_pairs(
    row: &mut Vec<Term>,
    key: Key,
    signal: usize,
    signals: &[Signal],
    max_level: u32,
    counts: &mut Counts,
) -> bool {
    let (a, b, d, same) = key;
    let mut replaced = false;
    let eligible = |t: &Term| signals[t.signal].level < max_level;
    loop {
        // The key orders its pair so that the partner of `t` (signal a) is signal b at
        // shift t.shift + d, with agreeing signs when `same`.
        let found = row.iter().enumerate().filter(|(_, t)| t.signal == a).find_map(|(i, t)| {
            let shift = t.shift as i64 + d;
            row.iter()
                .position(|u| u.signal == b && u.shift as i64 == shift && (u.negative == t.negative) == same)
                .filter(|&j| j != i)
                .map(|j| (i, j))
        });
        let Some((i, j)) = found else { return replaced };
        replaced = true;
        let (t, u) = (row[i], row[j]);
        for index in [i.max(j), i.min(j)] {
            row.swap_remove(index);
        }
        // The pair leaves, and so do the pairs each of its terms formed with the rest.
        counts.change(key, false);
        for removed in [t, u] {
            for other in row.iter() {
                if eligible(&removed) && eligible(other) {
                    if let Some(k) = self::key(&removed, other) {
                        counts.change(k, false);
                    }
                }
            }
        }
        let merged = Term { signal, shift: t.shift.min(u.shift), negative: t.negative };
        for other in row.iter() {
            if eligible(&merged) && eligible(other) {
                if let Some(k) = self::key(&merged, other) {
                    counts.change(k, true);
                }
            }
        }
        row.push(merged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(signals_values: &[i128], defs: &[Definition], row: &[Term]) -> i128 {
        let mut values = signals_values.to_vec();
        for d in defs {
            let (a, b) = (values[d.a] << d.a_shift, values[d.b] << d.b_shift);
            values.push(if d.subtract { a - b } else { a + b });
        }
        row.iter().map(|t| if t.negative { -(values[t.signal] << t.shift) } else { values[t.signal] << t.shift }).sum()
    }

    #[test]
    fn shared_pairs_are_computed_once_and_sums_are_unchanged() {
        let input = |r: i128| Signal { range: Interval { lo: -r, hi: r }, level: 0 };
        let mut signals = vec![input(8), input(8), input(8)];
        let t = |signal, shift, negative| Term { signal, shift, negative };
        // x0 + 4*x1 appears in all three rows (scaled, negated or not), x2 beside it in two.
        let original = vec![
            vec![t(0, 0, false), t(1, 2, false), t(2, 0, true)],
            vec![t(0, 1, true), t(1, 3, true), t(2, 1, false)],
            vec![t(0, 3, false), t(1, 5, false)],
        ];
        let mut rows = original.clone();
        let defs = eliminate(&mut signals, &mut rows, 3);
        // x0 + 4*x1 first, then (that) - x2, shared by the first two rows.
        assert_eq!(defs.len(), 2);
        assert_eq!((defs[0].a, defs[0].b, defs[0].b_shift, defs[0].subtract), (0, 1, 2, false));
        assert_eq!(rows.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
        for x in [[3i128, -5, 7], [-8, 8, 0], [1, 2, 3]] {
            for (before, after) in original.iter().zip(&rows) {
                assert_eq!(value(&x, &[], before), value(&x, &defs, after));
            }
        }
    }
}

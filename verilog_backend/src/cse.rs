//! Common subexpressions across the shift-add sums of one layer: a pair of terms
//! `±(a << i) ± (b << j)` that several outputs share is computed once as a new signal
//! `(a << ·) ± (b << ·)`, and every output adds that signal instead of the pair. The pair
//! that saves the most goes first (Hartley's greedy method, where savings can be counted
//! in adders or weighed in bits), with pair counts kept up to date incrementally so that
//! large layers stay fast.

use balerc_compiler::quant::range::Interval;
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Reverse;
use std::collections::BTreeMap;

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

/// Which pair the greedy search shares next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// The most frequent pair (Hartley's method): the most adders saved.
    Frequency,
    /// The pair whose uses save the most adder bits: the adders it saves (its count less
    /// the one that computes it) times the square of its operands' `overlap`. Squaring
    /// favours pairs whose operands line up; of the weights tried, it saved the most bits.
    BitsSaved,
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

/// A pair pattern: signals a <= b, b's shift minus a's, and whether their signs agree,
/// packed into one word (a, b, shift difference, sign agreement from the top bits down, so
/// keys order as those tuples do): wide layers count millions of patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key(u64);

const SIGNAL_BITS: u32 = 24;
const DIFFERENCE_BITS: u32 = 15;
const DIFFERENCE_OFFSET: i64 = 1 << (DIFFERENCE_BITS - 1);

impl Key {
    fn new(a: usize, b: usize, difference: i64, same: bool) -> Key {
        let difference = (difference + DIFFERENCE_OFFSET) as u64;
        Key(((a as u64) << (SIGNAL_BITS + DIFFERENCE_BITS + 1))
            | ((b as u64) << (DIFFERENCE_BITS + 1))
            | (difference << 1)
            | u64::from(same))
    }

    fn parts(self) -> (usize, usize, i64, bool) {
        let field = |shift: u32, bits: u32| (self.0 >> shift) & ((1 << bits) - 1);
        (
            field(SIGNAL_BITS + DIFFERENCE_BITS + 1, SIGNAL_BITS) as usize,
            field(DIFFERENCE_BITS + 1, SIGNAL_BITS) as usize,
            field(1, DIFFERENCE_BITS) as i64 - DIFFERENCE_OFFSET,
            self.0 & 1 == 1,
        )
    }
}

fn key(t: &Term, u: &Term) -> Option<Key> {
    let (first, second) = if (t.signal, t.shift) <= (u.signal, u.shift) { (t, u) } else { (u, t) };
    if first.signal == second.signal && first.shift == second.shift {
        return None;
    }
    let difference = second.shift as i64 - first.shift as i64;
    Some(Key::new(first.signal, second.signal, difference, first.negative == second.negative))
}

/// The bits in which the two operands of the pair `key` overlap: from the larger of their
/// shifts up to the lower of their tops. An adder tree costs about the widths of its terms,
/// and the shared signal is about as wide as the wider operand of the pair, so each sum
/// that adds it instead of the pair saves about this many bits.
fn overlap(signals: &[Signal], key: Key) -> u32 {
    let (a, b, difference, _) = key.parts();
    let (a_shift, b_shift) = (difference.min(0).unsigned_abs() as u32, difference.max(0) as u32);
    let top = |signal: usize, shift: u32| signals[signal].range.shifted(shift).signed_bits();
    top(a, a_shift).min(top(b, b_shift)).saturating_sub(a_shift.max(b_shift))
}

impl Priority {
    /// A pair's priority at `count` occurrences; 0 when it cannot be shared, for only
    /// pairs seen twice or more can be.
    fn of(self, key: Key, count: u32, signals: &[Signal]) -> u32 {
        match self {
            _ if count < 2 => 0,
            Priority::Frequency => count,
            Priority::BitsSaved => (count - 1).saturating_mul(overlap(signals, key).max(1).pow(2)),
        }
    }
}

/// Pair counts with a lazily updated priority queue of buckets, one per priority (which
/// rises and falls with the count). A priority that falls is not queued again: the stale
/// entry is refreshed only when it surfaces. Falling counts are most changes, so little is
/// queued, and there are few distinct priorities to order.
struct Counts {
    /// The current count of each pair, and the highest priority it is queued at.
    counts: HashMap<Key, (u32, u32)>,
    queue: Buckets,
    priority: Priority,
}

/// Keys by priority; the most recently queued key of the highest priority comes out first.
/// A map, not a vector indexed by priority: weighed priorities run into the millions.
#[derive(Default)]
struct Buckets {
    buckets: BTreeMap<u32, Vec<Key>>,
}

impl Buckets {
    fn push(&mut self, priority: u32, key: Key) {
        self.buckets.entry(priority).or_default().push(key);
    }

    fn pop(&mut self) -> Option<(u32, Key)> {
        while let Some(mut top) = self.buckets.last_entry() {
            if let Some(key) = top.get_mut().pop() {
                return Some((*top.key(), key));
            }
            top.remove();
        }
        None
    }
}

impl Counts {
    fn new(priority: Priority) -> Counts {
        Counts { counts: HashMap::default(), queue: Buckets::default(), priority }
    }

    fn change(&mut self, key: Key, up: bool, signals: &[Signal]) {
        let (count, queued) = self.counts.entry(key).or_insert((0, 0));
        if up {
            *count += 1;
            let priority = self.priority.of(key, *count, signals);
            if priority > *queued {
                *queued = priority;
                self.queue.push(priority, key);
            }
        } else {
            *count -= 1;
        }
    }

    /// Queues a pair again, at its current priority, if it can still be shared.
    fn requeue(&mut self, key: Key, signals: &[Signal]) {
        if let Some((count, queued)) = self.counts.get_mut(&key) {
            *queued = self.priority.of(key, *count, signals);
            if *queued > 0 {
                self.queue.push(*queued, key);
            }
        }
    }

    /// The pair of the highest priority still present at least twice.
    fn best(&mut self, signals: &[Signal]) -> Option<Key> {
        // Every pair counted twice or more is queued at least as high as its priority, so
        // the first entry that is up to date is a pair of the highest priority.
        while let Some((queued, key)) = self.queue.pop() {
            let count = self.counts.get(&key).map_or(0, |&(count, _)| count);
            let priority = self.priority.of(key, count, signals);
            if priority == queued {
                return Some(key);
            }
            if priority < queued {
                self.requeue(key, signals);
            }
        }
        None
    }
}

/// Rewrites `rows` (one sum per output) to share subexpressions; new signals are appended
/// to `signals` and defined, in order, by the returned definitions. Signals at
/// `max_level` adders deep are not combined further, which bounds the logic depth.
pub fn eliminate(
    signals: &mut Vec<Signal>,
    rows: &mut [Vec<Term>],
    max_level: u32,
    priority: Priority,
) -> Vec<Definition> {
    let eligible = |signals: &Vec<Signal>, t: &Term| signals[t.signal].level < max_level;
    let mut counts = Counts::new(priority);
    for row in rows.iter() {
        for (i, t) in row.iter().enumerate() {
            for u in &row[i + 1..] {
                if eligible(signals, t) && eligible(signals, u) {
                    if let Some(k) = key(t, u) {
                        counts.counts.entry(k).or_insert((0, 0)).0 += 1;
                    }
                }
            }
        }
    }
    // Every shareable pair queued to start with; later changes queue their own.
    // Queued in key order, so that the result does not depend on the hash map's layout.
    let mut shareable: Vec<(Key, u32)> =
        counts.counts.iter().filter(|(_, (c, _))| *c >= 2).map(|(&k, &(c, _))| (k, c)).collect();
    shareable.sort_unstable_by_key(|&(key, _)| Reverse(key));
    for (key, count) in shareable {
        let queued = priority.of(key, count, signals);
        counts.counts.get_mut(&key).expect("counted").1 = queued;
        counts.queue.push(queued, key);
    }
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
    assert!(
        signals.len() + rows.iter().map(Vec::len).sum::<usize>() < 1 << SIGNAL_BITS,
        "a layer too large for the pair keys"
    );
    while let Some(best) = counts.best(signals) {
        let (a, b, d, same) = best.parts();
        let signal = signals.len();
        let (a_shift, b_shift) = (d.min(0).unsigned_abs() as u32, d.max(0) as u32);
        let (ra, rb) = (signals[a].range.shifted(a_shift), signals[b].range.shifted(b_shift));
        // (a << i) - b would carry through b's low bits; b - (a << i) passes them, and
        // the rows take the signal negated.
        let negated = !same && a_shift > b_shift;
        let range = if same {
            ra.plus(rb)
        } else if negated {
            rb.minus(ra)
        } else {
            ra.minus(rb)
        };
        let level = signals[a].level.max(signals[b].level) + 1;
        signals.push(Signal { range, level });
        definitions.push(if negated {
            Definition { signal, a: b, a_shift: b_shift, b: a, b_shift: a_shift, subtract: true }
        } else {
            Definition { signal, a, a_shift, b, b_shift, subtract: !same }
        });
        let candidates = if rows_of[a].len() <= rows_of[b].len() { rows_of[a].clone() } else { rows_of[b].clone() };
        let mut holders = Vec::new();
        for r in candidates {
            if replace_pairs(&mut rows[r], best, (signal, negated), signals, max_level, &mut counts) {
                holders.push(r);
            }
        }
        holders.dedup();
        rows_of.push(holders);
        // Overlapping occurrences may leave the pair in some rows.
        counts.requeue(best, signals);
    }
    definitions
}

/// Replaces every non-overlapping occurrence of the pair `key` in one row by `signal`
/// (negated when the signal holds the pair's negation); returns whether there was any.
fn replace_pairs(
    row: &mut Vec<Term>,
    key: Key,
    (signal, negated): (usize, bool),
    signals: &[Signal],
    max_level: u32,
    counts: &mut Counts,
) -> bool {
    let (a, b, d, same) = key.parts();
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
        counts.change(key, false, signals);
        for removed in [t, u] {
            for other in row.iter() {
                if eligible(&removed) && eligible(other) {
                    if let Some(k) = self::key(&removed, other) {
                        counts.change(k, false, signals);
                    }
                }
            }
        }
        let merged = Term { signal, shift: t.shift.min(u.shift), negative: t.negative != negated };
        for other in row.iter() {
            if eligible(&merged) && eligible(other) {
                if let Some(k) = self::key(&merged, other) {
                    counts.change(k, true, signals);
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
        let defs = eliminate(&mut signals, &mut rows, 3, Priority::Frequency);
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

    #[test]
    fn weighing_bits_shares_the_pair_that_overlaps_more_first() {
        let input = || Signal { range: Interval { lo: -(1 << 15), hi: (1 << 15) - 1 }, level: 0 };
        let t = |signal, shift, negative| Term { signal, shift, negative };
        // x0 + x2 and x0 + (x1 << 12) are both in both rows; x1 << 12 overlaps x0 in 4 bits
        // only, x2 in all 16. Counting adders, the tie goes to the pair of lower signals.
        let original = vec![
            vec![t(0, 0, false), t(1, 12, false), t(2, 0, false)],
            vec![t(0, 1, false), t(1, 13, false), t(2, 1, false)],
        ];
        for (priority, partner) in [(Priority::Frequency, 1), (Priority::BitsSaved, 2)] {
            let mut signals = vec![input(), input(), input()];
            let mut rows = original.clone();
            let defs = eliminate(&mut signals, &mut rows, 3, priority);
            assert_eq!((defs[0].a, defs[0].b), (0, partner), "{priority:?}");
            assert_eq!(rows.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
            for x in [[3i128, -5, 7], [-32768, 32767, -32768], [1, 2, 3]] {
                for (before, after) in original.iter().zip(&rows) {
                    assert_eq!(value(&x, &[], before), value(&x, &defs, after));
                }
            }
        }
    }

    #[test]
    fn a_less_shifted_subtrahend_is_shared_as_the_negated_pair() {
        let input = |r: i128| Signal { range: Interval { lo: -r, hi: r }, level: 0 };
        let mut signals = vec![input(8), input(8)];
        let t = |signal, shift, negative| Term { signal, shift, negative };
        // 4*x0 - x1 twice: shared as x1 - 4*x0, so that x1's low bits pass an adder.
        let original = vec![vec![t(0, 2, false), t(1, 0, true)], vec![t(0, 3, true), t(1, 1, false)]];
        let mut rows = original.clone();
        let defs = eliminate(&mut signals, &mut rows, 3, Priority::Frequency);
        assert_eq!(defs.len(), 1);
        assert_eq!((defs[0].a, defs[0].a_shift, defs[0].b, defs[0].b_shift, defs[0].subtract), (1, 0, 0, 2, true));
        assert_eq!(rows, vec![vec![t(2, 0, true)], vec![t(2, 1, false)]]);
        assert_eq!(signals[2].range, Interval { lo: -40, hi: 40 });
        for x in [[3i128, -5], [-8, 8], [7, 1]] {
            for (before, after) in original.iter().zip(&rows) {
                assert_eq!(value(&x, &[], before), value(&x, &defs, after));
            }
        }
    }
}

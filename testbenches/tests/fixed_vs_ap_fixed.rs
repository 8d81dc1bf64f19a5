//! Checks `fixed` against the real `ap_fixed` headers: proptest picks random target types,
//! source types and values, one generated C++ program (compiled once with g++) converts them
//! all, and every answer must match `cast`, `Caster::apply` (`apply_wide` past i64), `to_f64`
//! and `from_f64`.
//!
//! The headers come from `AP_TYPES_INCLUDE` (a directory holding ap_fixed.h), else from the
//! installed hls4ml package. Without them or g++ the test is skipped, unless `CI` is set.
//! `FIXED_ORACLE_SEED=<u64>` replays a run.

use balerc_compiler::fixed::{FixedType, Overflow, Quantization};
use balerc_testbench::{ap_types, gxx, require};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use std::{env, fs};

const TARGETS: usize = 300;
const RANDOM_RAWS: usize = 80;
const RANDOM_DOUBLES: usize = 60;

/// A source `ap_[u]fixed<width, width - frac>` holding the raw value exactly.
#[derive(Debug, Clone, Copy)]
struct Source {
    width: u32,
    frac: i32,
    signed: bool,
}

impl Source {
    fn cpp(&self) -> String {
        let name = if self.signed { "ap_fixed" } else { "ap_ufixed" };
        format!("{name}<{},{}>", self.width, self.width as i32 - self.frac)
    }

    fn range(&self) -> (i128, i128) {
        if self.signed {
            (i128::MIN >> (128 - self.width), i128::MAX >> (128 - self.width))
        } else {
            (0, (((1u128 << self.width) - 1) as i128))
        }
    }
}

/// Everything one oracle run checks.
#[derive(Default)]
struct Batch {
    targets: Vec<FixedType>,
    /// (target index, source) per instantiation of the converting assignment.
    pairs: Vec<(usize, Source)>,
    /// (pair index, raw source bits)
    casts: Vec<(usize, i128)>,
    /// (target index, double)
    doubles: Vec<(usize, f64)>,
}

fn target_type() -> impl Strategy<Value = FixedType> {
    let width = prop_oneof![Just(1u32), 2u32..=8, 9u32..=32, 33u32..=62, 63u32..=64];
    let frac = prop_oneof![4 => -12i32..=72, 1 => -128i32..=128];
    let n = prop_oneof![4 => Just(0u32), 1 => 1u32..=3, 1 => 1u32..=64];
    (width, frac, any::<bool>(), 0..7usize, 0..5usize, n).prop_filter_map("not a valid type", |(w, f, s, q, o, n)| {
        let t = FixedType::new(w, w as i32 - f, s).ok()?;
        t.with_modes(Quantization::ALL[q], Overflow::ALL[o], n.min(w)).ok()
    })
}

/// A wide signed source and a random one, both with fractional bits near the target's.
fn sources(t: FixedType) -> impl Strategy<Value = [Source; 2]> {
    let f = t.frac_bits();
    let delta = || prop_oneof![-3i32..=3, -70i32..=70];
    let narrow = (prop_oneof![1u32..=64, 65u32..=127], any::<bool>(), delta());
    (delta(), narrow).prop_map(move |(d1, (width, signed, d2))| {
        [Source { width: 128, frac: f + d1, signed: true }, Source { width, frac: f + d2, signed }]
    })
}

/// Values around the target's boundaries (and exact halves of its LSB) in source units,
/// clamped to the source range, plus the source's own extremes.
fn edge_raws(t: FixedType, s: Source) -> BTreeSet<i128> {
    let (smin, smax) = s.range();
    let (min, max) = (i128::from(t.min_code()), i128::from(t.max_code()));
    let wrap = 1i128 << t.width;
    let codes = [min, max, min - 1, max + 1, min + 1, max - 1, 0, 1, -1, wrap, wrap - 1, -wrap, -wrap - 1];
    let d = s.frac - t.frac_bits();
    let mut raws = BTreeSet::from([smin, smax, 0, 1, -1].map(|r| r.clamp(smin, smax)));
    for code in codes {
        let (base, offsets) = if d >= 0 {
            let half = if d > 0 { 1i128.checked_shl(d as u32 - 1).unwrap_or(0) } else { 0 };
            (
                code.checked_mul(1i128.checked_shl(d as u32).unwrap_or(0)),
                vec![0, 1, -1, half, half - 1, half + 1, -half],
            )
        } else {
            (Some(code >> (-d).min(127)), vec![0, 1, -1])
        };
        for off in offsets {
            if let Some(raw) = base.and_then(|b| b.checked_add(off)) {
                raws.insert(raw.clamp(smin, smax));
            }
        }
    }
    raws
}

/// Random raw bits of the source width: anywhere, and small.
fn random_raws(s: Source) -> impl Strategy<Value = Vec<i128>> {
    let (smin, smax) = s.range();
    let raw = prop_oneof![any::<i128>(), -4096i128..=4096].prop_map(move |r| r.clamp(smin, smax));
    prop::collection::vec(raw, RANDOM_RAWS)
}

/// Exact doubles at the target's boundaries and LSB halves, random doubles near its scale, and
/// anything finite (tiny, subnormal, huge).
fn doubles(t: FixedType) -> impl Strategy<Value = Vec<f64>> {
    let f = t.frac_bits();
    let (min, max) = (t.min_code() as f64, t.max_code() as f64);
    let mut fixed = vec![0.0, -0.0, 5e-324, -5e-324, f64::MIN_POSITIVE, -f64::MAX, f64::MAX, 1e300, -1e-300];
    for code in [min, max, min - 1.0, max + 1.0, 0.0, 1.0, -1.0] {
        for quarter in [-2.0, -1.0, 0.0, 1.0, 2.0] {
            fixed.push((code + quarter / 4.0) * 2f64.powi(-f));
        }
    }
    let scaled = (any::<i64>(), -70i32..=70).prop_map(move |(m, e)| m as f64 * 2f64.powi(e - f));
    let any_finite = any::<f64>().prop_filter("finite", |x| x.is_finite());
    prop::collection::vec(prop_oneof![scaled, any_finite], RANDOM_DOUBLES).prop_map(move |mut v| {
        v.extend(&fixed);
        v
    })
}

fn draw<S: Strategy>(runner: &mut TestRunner, strategy: S) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

fn generate(runner: &mut TestRunner) -> Batch {
    let mut batch = Batch::default();
    for ti in 0..TARGETS {
        let t = draw(runner, target_type());
        batch.targets.push(t);
        for s in draw(runner, sources(t)) {
            let pi = batch.pairs.len();
            batch.pairs.push((ti, s));
            let mut raws = edge_raws(t, s);
            raws.extend(draw(runner, random_raws(s)));
            batch.casts.extend(raws.into_iter().map(|r| (pi, r)));
        }
        batch.doubles.extend(draw(runner, doubles(t)).into_iter().map(|x| (ti, x)));
    }
    batch
}

/// One C++ program with an instantiation per pair and per target; reads `c pair hi lo` and
/// `d target bits` lines, answers `code to_double_bits` and `code`.
fn cpp_program(batch: &Batch) -> String {
    let mut src = String::from(
        r#"#include <ap_fixed.h>
#include <cstdio>
#include <cstring>
#include <type_traits>

static unsigned long long bits_of(double x) { unsigned long long b; std::memcpy(&b, &x, 8); return b; }

template <int W2, int I2, bool S2, class Dst> static void conv(long long hi, unsigned long long lo) {
  ap_int<128> t = hi;
  t <<= 64;
  t |= ap_int<128>(ap_uint<64>(lo));
  ap_int_base<W2, S2> bits = t;
  typename std::conditional<S2, ap_fixed<W2, I2>, ap_ufixed<W2, I2> >::type src;
  src.V = bits.V;
  Dst dst = src;
  std::printf("%lld %llu\n", (long long)dst.V.to_int64(), bits_of(dst.to_double()));
}

template <class Dst> static void from_double(unsigned long long b) {
  double x;
  std::memcpy(&x, &b, 8);
  Dst dst = x;
  std::printf("%lld\n", (long long)dst.V.to_int64());
}

typedef void (*Conv)(long long, unsigned long long);
static const Conv convs[] = {
"#,
    );
    for (ti, s) in &batch.pairs {
        let _ = writeln!(src, "  &conv<{},{},{},{} >,", s.width, s.width as i32 - s.frac, s.signed, batch.targets[*ti]);
    }
    src.push_str("};\ntypedef void (*FromDouble)(unsigned long long);\nstatic const FromDouble from_doubles[] = {\n");
    for t in &batch.targets {
        let _ = writeln!(src, "  &from_double<{t} >,");
    }
    src.push_str(
        r#"};

int main() {
  char kind;
  unsigned idx;
  long long hi;
  unsigned long long lo;
  while (std::scanf(" %c %u", &kind, &idx) == 2) {
    if (kind == 'c' && std::scanf("%lld %llu", &hi, &lo) == 2) convs[idx](hi, lo);
    else if (kind == 'd' && std::scanf("%llu", &lo) == 1) from_doubles[idx](lo);
    else return 2;
  }
  return 0;
}
"#,
    );
    src
}

fn oracle_input(batch: &Batch) -> String {
    let mut input = String::new();
    for (pi, raw) in &batch.casts {
        let _ = writeln!(input, "c {pi} {} {}", (raw >> 64) as i64, *raw as u64);
    }
    for (ti, x) in &batch.doubles {
        let _ = writeln!(input, "d {ti} {}", x.to_bits());
    }
    input
}

/// Compiles and runs the oracle in `dir`, returning its output lines.
fn run_oracle(dir: &Path, include: &Path, batch: &Batch) -> Result<Vec<String>, String> {
    let input = dir.join("input.txt");
    fs::write(&input, oracle_input(batch)).map_err(|e| e.to_string())?;
    gxx::compile(dir, "oracle", &cpp_program(batch), include)?.run(&input)
}

/// Compares every answer; mismatches are grouped by target type.
fn compare(batch: &Batch, answers: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut bad: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (cast_answers, double_answers) = answers.split_at(batch.casts.len());
    for (&(pi, raw), answer) in batch.casts.iter().zip(cast_answers) {
        let (ti, s) = batch.pairs[pi];
        let t = batch.targets[ti];
        let (code, double) = answer.split_once(' ').unwrap();
        let code: i64 = code.parse().unwrap();
        let double = f64::from_bits(double.parse().unwrap());
        let cast = t.cast(raw, s.frac);
        let c = t.caster(s.frac);
        let caster = i64::try_from(raw).map_or_else(|_| c.apply_wide(raw), |r| c.apply(r));
        if cast != code || caster != code {
            let line =
                format!("from {} raw {raw} (x 2^{}): header {code}, cast {cast}, caster {caster}", s.cpp(), -s.frac);
            bad.entry(t.to_string()).or_default().push(line);
        }
        if t.to_f64(code).to_bits() != double.to_bits() {
            let line = format!("code {code}: header to_double {double:e}, to_f64 {:e}", t.to_f64(code));
            bad.entry(t.to_string()).or_default().push(line);
        }
    }
    for (&(ti, x), answer) in batch.doubles.iter().zip(double_answers) {
        let t = batch.targets[ti];
        let code: i64 = answer.parse().unwrap();
        let ours = t.from_f64(x).unwrap();
        if ours != code {
            let line = format!("from (double){x:e} (bits {:#018x}): header {code}, from_f64 {ours}", x.to_bits());
            bad.entry(t.to_string()).or_default().push(line);
        }
    }
    bad
}

/// The first few mismatches of each type.
fn report(bad: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::new();
    for (t, lines) in bad {
        let _ = writeln!(out, "{t}: {} mismatches", lines.len());
        for line in lines.iter().take(3) {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

#[test]
fn fixed_matches_ap_fixed_headers() {
    let Some(include) = require(gxx::available().and_then(|()| ap_types::include_dir())) else {
        return;
    };
    let seed = env::var("FIXED_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let batch = generate(&mut runner);

    let dir = env::temp_dir().join(format!("fixed_vs_ap_fixed_{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let answers = run_oracle(&dir, &include, &batch).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answers.len(), batch.casts.len() + batch.doubles.len(), "oracle output truncated (seed {seed})");
    let bad = compare(&batch, &answers);
    if bad.is_empty() {
        let _ = fs::remove_dir_all(&dir);
    }
    eprintln!(
        "checked {} casts ({} target types, {} source types) and {} doubles against ap_fixed (seed {seed})",
        batch.casts.len(),
        batch.targets.len(),
        batch.pairs.len(),
        batch.doubles.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {} target types disagree with the ap_fixed headers \
         (FIXED_ORACLE_SEED={seed} replays; oracle.cpp and input.txt kept in {}):\n{}",
        bad.len(),
        batch.targets.len(),
        dir.display(),
        report(&bad)
    );
}

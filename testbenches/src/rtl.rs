//! Drives the RTL tools on designs that follow balerc's streaming contract: simulation with
//! Verilator ([`VerilatorBench`]) and Icarus Verilog ([`run_iverilog`]), linting with
//! `verilator --lint-only -Wall` ([`lint`]) and a resource estimate with yosys
//! ([`synthesize`]).
//!
//! The contract: module `<top>` with inputs `clk`, `rst` (synchronous, active high),
//! `in_valid`, `in_data[N_IN*W_IN-1:0]` and outputs `out_valid`, `out_data[N_OUT*W_OUT-1:0]`;
//! element i occupies bits `[i*W+W-1 : i*W]` as its raw two's-complement code (unsigned code
//! when the type is unsigned); out_valid rises exactly `latency` cycles after the cycle whose
//! in_valid it answers, and a new input may come every cycle. A folded design (II > 1) has
//! an `in_ready` output too: a sample enters in a clock with in_valid and in_ready both high,
//! and must be able to enter every II clocks.
//!
//! Both simulators drive the same protocol: `rst` high for [`RESET_CYCLES`] clocks (registers
//! start random under Verilator, `x` under Icarus, so a valid pipeline without reset shows
//! up), then the vectors back to back, one per clock (with II > 1, each held with in_valid
//! high until in_ready takes it), then `latency + `[`IDLE_CYCLES`] idle clocks. Inputs change while `clk` is low and outputs are sampled just before the rising
//! edge, so "cycle c" is the clock period ending with the c-th rising edge after reset and a
//! combinational design (latency 0) answers in the cycle of its input.

mod iverilog;
mod stream;
mod verilator;
mod yosys;

pub use iverilog::run_iverilog;
pub use stream::{run_stream_iverilog, Pressure, StreamDesign, StreamRun, StreamVerilatorBench, STALL_CYCLES};
pub use verilator::{lint, VerilatorBench};
pub use yosys::{synthesize, Resources};

use crate::Unavailable;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Clocks with `rst` high before the first vector.
pub const RESET_CYCLES: usize = 2;
/// Clocks simulated after the last expected output, to catch late or spurious out_valid.
pub const IDLE_CYCLES: usize = 8;

/// What a driver needs to know about a generated design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlDesign {
    /// The `.v` files (Verilog-2001).
    pub sources: Vec<PathBuf>,
    /// The top module's name (a plain Verilog identifier).
    pub top: String,
    /// N_IN, elements of `in_data`.
    pub inputs: usize,
    /// W_IN, bits per input element (1..=64, or 1..=63 when unsigned).
    pub input_width: u32,
    pub input_signed: bool,
    /// N_OUT, elements of `out_data`.
    pub outputs: usize,
    /// W_OUT, bits per output element (1..=64, or 1..=63 when unsigned).
    pub output_width: u32,
    pub output_signed: bool,
    /// Cycles from in_valid to the matching out_valid.
    pub latency: usize,
    /// Clocks between samples; above 1 the design has an `in_ready` output.
    pub ii: usize,
}

impl RtlDesign {
    /// Width of `in_data`.
    pub fn in_bits(&self) -> usize {
        self.inputs * self.input_width as usize
    }

    /// Width of `out_data`.
    pub fn out_bits(&self) -> usize {
        self.outputs * self.output_width as usize
    }

    /// Checks what the drivers rely on: existing sources, a plain identifier as top, at
    /// least one element each way, and element widths whose codes fit an i64.
    pub fn validate(&self) -> Result<(), String> {
        if self.sources.is_empty() {
            return Err(format!("design {} has no source files", self.top));
        }
        for s in &self.sources {
            if !s.is_file() {
                return Err(format!("design {}: no source file {}", self.top, s.display()));
            }
        }
        let mut chars = self.top.chars();
        let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !plain {
            return Err(format!("top module name {:?} is not a plain Verilog identifier", self.top));
        }
        if self.ii == 0 {
            return Err(format!("design {}: II must be at least 1", self.top));
        }
        if self.inputs == 0 || self.outputs == 0 {
            return Err(format!("design {} needs at least one input and one output element", self.top));
        }
        for (what, width, signed) in
            [("input", self.input_width, self.input_signed), ("output", self.output_width, self.output_signed)]
        {
            let max = if signed { 64 } else { 63 };
            if width == 0 || width > max {
                let kind = if signed { "signed" } else { "unsigned" };
                return Err(format!("design {}: {kind} {what} width {width} is outside 1..={max}", self.top));
            }
        }
        Ok(())
    }

    /// Checks that every vector has `inputs` codes, each in the range of the input type.
    pub fn check_vectors(&self, vectors: &[Vec<i64>]) -> Result<(), String> {
        let (lo, hi) = code_range(self.input_width, self.input_signed);
        for (k, v) in vectors.iter().enumerate() {
            if v.len() != self.inputs {
                return Err(format!("vector {k} has {} codes, design {} takes {}", v.len(), self.top, self.inputs));
            }
            if let Some((i, c)) = v.iter().enumerate().find(|(_, &c)| c < lo || c > hi) {
                return Err(format!(
                    "vector {k} element {i}: code {c} is outside {lo}..={hi} ({}{} bits)",
                    if self.input_signed { "signed " } else { "unsigned " },
                    self.input_width
                ));
            }
        }
        Ok(())
    }
}

/// The codes a `width`-bit element can hold.
pub fn code_range(width: u32, signed: bool) -> (i64, i64) {
    if signed {
        (i64::MIN >> (64 - width), i64::MAX >> (64 - width))
    } else {
        (0, (u64::MAX >> (64 - width)) as i64)
    }
}

/// Whether Verilator can build and run a C++ model here (it needs make and g++ too).
pub fn verilator_available() -> Result<(), Unavailable> {
    tool_runs("verilator", &["--version"])?;
    tool_runs("make", &["--version"])?;
    tool_runs("g++", &["--version"])
}

/// Whether Icarus Verilog (the `iverilog` compiler and the `vvp` runtime) can run here.
pub fn iverilog_available() -> Result<(), Unavailable> {
    tool_runs("iverilog", &["-V"])?;
    tool_runs("vvp", &["-V"])
}

/// Whether yosys can run here.
pub fn yosys_available() -> Result<(), Unavailable> {
    tool_runs("yosys", &["-V"])
}

fn tool_runs(tool: &str, args: &[&str]) -> Result<(), Unavailable> {
    match Command::new(tool).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(Unavailable(format!("`{tool} {}` fails ({})", args.join(" "), out.status))),
        Err(e) => Err(Unavailable(format!("{tool} is not installed ({e})"))),
    }
}

/// Runs a tool to completion; a failure to start or a non-zero exit is an error carrying
/// the tool's output.
fn run_tool(what: &str, cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("{what} failed ({}):\n{}", out.status, tool_text(&out)))
    }
}

/// stderr then stdout, each cut to a readable length.
fn tool_text(out: &Output) -> String {
    let mut text = String::new();
    for stream in [&out.stderr, &out.stdout] {
        let s = String::from_utf8_lossy(stream);
        let s = s.trim_end();
        if s.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&shorten(s, 12_000));
    }
    text
}

/// The head of `s` when longer than `max` bytes.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... ({} more bytes)", &s[..cut], s.len() - cut)
}

/// Checks what a simulator saw (cycle of each out_valid, in order, with its codes) against
/// the contract: exactly one output per vector, at the vector's cycle plus the latency, the
/// vectors entering every II clocks.
fn match_outputs(design: &RtlDesign, vectors: usize, seen: Vec<(usize, Vec<i64>)>) -> Result<Vec<Vec<i64>>, String> {
    let (latency, ii) = (design.latency, design.ii);
    let cycles = |from: usize| {
        let shown: Vec<String> = seen.iter().skip(from).take(8).map(|(c, _)| c.to_string()).collect();
        let more = if seen.len() > from + 8 { ", ..." } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    for (k, (cycle, codes)) in seen.iter().enumerate() {
        if codes.len() != design.outputs {
            return Err(format!("output {k} has {} codes, expected {}", codes.len(), design.outputs));
        }
        if *cycle != k * ii + latency {
            let why = if k >= vectors {
                format!("all {vectors} outputs had come; out_valid rose again at cycle {cycle}")
            } else {
                format!("output {k} came at cycle {cycle}, expected at input cycle {} + latency {latency}", k * ii)
            };
            return Err(format!(
                "design {}: {why} (inputs at cycles 0, {ii}, ... {}; out_valid at cycles {})",
                design.top,
                vectors.saturating_sub(1) * ii,
                cycles(k.saturating_sub(2))
            ));
        }
    }
    if seen.len() != vectors {
        return Err(format!(
            "design {}: {} outputs for {vectors} inputs; out_valid never rose at cycle {} (input {} + latency {latency}) \
             within {IDLE_CYCLES} idle cycles after",
            design.top,
            seen.len(),
            seen.len() * ii + latency,
            seen.len() * ii
        ));
    }
    Ok(seen.into_iter().map(|(_, codes)| codes).collect())
}

/// Sets `width` bits at bit `offset` of a little-endian word array (the bits must be zero).
fn set_bits(words: &mut [u64], offset: usize, width: u32, value: u64) {
    let value = value & (u64::MAX >> (64 - width));
    let (w, s) = (offset / 64, offset % 64);
    words[w] |= value << s;
    if s + width as usize > 64 {
        words[w + 1] |= value >> (64 - s);
    }
}

/// The `width` bits at bit `offset` of a little-endian word array.
fn get_bits(words: &[u64], offset: usize, width: u32) -> u64 {
    let (w, s) = (offset / 64, offset % 64);
    let mut v = words[w] >> s;
    if s + width as usize > 64 {
        v |= words[w + 1] << (64 - s);
    }
    v & (u64::MAX >> (64 - width))
}

/// A raw `width`-bit code as an i64, sign-extended when `signed`.
fn extend(raw: u64, width: u32, signed: bool) -> i64 {
    if signed {
        ((raw << (64 - width)) as i64) >> (64 - width)
    } else {
        raw as i64
    }
}

/// The elements packed at `[i*width +: width]`, as hex digits, most significant first,
/// `ceil(n*width/4)` of them (what `$readmemh` and `%h` use).
pub fn pack_hex(codes: &[i64], width: u32) -> String {
    let bits = codes.len() * width as usize;
    let mut words = vec![0u64; bits.div_ceil(64)];
    for (i, &c) in codes.iter().enumerate() {
        set_bits(&mut words, i * width as usize, width, c as u64);
    }
    (0..bits.div_ceil(4))
        .rev()
        .map(|d| {
            let nibble = get_bits(&words, d * 4, 4.min((bits - d * 4) as u32));
            char::from_digit(nibble as u32, 16).unwrap()
        })
        .collect()
}

/// The inverse of [`pack_hex`]; `x`/`z` digits are an error naming them.
pub fn unpack_hex(hex: &str, n: usize, width: u32, signed: bool) -> Result<Vec<i64>, String> {
    let bits = n * width as usize;
    let digits = bits.div_ceil(4);
    if hex.len() != digits {
        return Err(format!("expected {digits} hex digits for {bits} bits, got {}", hex.len()));
    }
    let mut words = vec![0u64; bits.div_ceil(64) + 1];
    let mut unknown = Vec::new();
    for (d, ch) in hex.chars().rev().enumerate() {
        match ch.to_digit(16) {
            Some(v) => set_bits(&mut words, d * 4, 4, v as u64),
            None => unknown.push(d),
        }
    }
    if !unknown.is_empty() {
        let elements: std::collections::BTreeSet<usize> =
            unknown.iter().flat_map(|d| d * 4 / width as usize..=(d * 4 + 3).min(bits - 1) / width as usize).collect();
        let shown: Vec<String> = elements.iter().take(16).map(|e| e.to_string()).collect();
        return Err(format!(
            "x/z bits in elements {}{}",
            shown.join(", "),
            if elements.len() > 16 { ", ..." } else { "" }
        ));
    }
    Ok((0..n).map(|i| extend(get_bits(&words, i * width as usize, width), width, signed)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        for (width, signed) in
            [(1, false), (1, true), (3, true), (12, true), (16, false), (33, true), (63, false), (64, true)]
        {
            let (lo, hi) = code_range(width, signed);
            let codes: Vec<i64> = (0..37i64)
                .map(|i| {
                    if i % 3 == 0 {
                        lo
                    } else if i % 3 == 1 {
                        hi
                    } else {
                        extend(
                            (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) & (u64::MAX >> (64 - width)),
                            width,
                            signed,
                        )
                    }
                })
                .collect();
            let hex = pack_hex(&codes, width);
            assert_eq!(hex.len(), (codes.len() * width as usize).div_ceil(4));
            assert_eq!(unpack_hex(&hex, codes.len(), width, signed).unwrap(), codes, "width {width} signed {signed}");
        }
        assert_eq!(pack_hex(&[-1, 0, 1], 3), "047");
        assert_eq!(unpack_hex("047", 3, 3, true).unwrap(), vec![-1, 0, 1]);
        assert!(unpack_hex("0x7", 3, 3, true).unwrap_err().contains("elements 1, 2"));
    }

    #[test]
    fn ranges() {
        assert_eq!(code_range(8, true), (-128, 127));
        assert_eq!(code_range(8, false), (0, 255));
        assert_eq!(code_range(64, true), (i64::MIN, i64::MAX));
        assert_eq!(code_range(63, false), (0, i64::MAX));
    }
}

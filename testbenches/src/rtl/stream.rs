//! Drives streamed designs (`--io stream`): module `<top>` with `clk`, `rst`, `in_valid`,
//! `in_ready`, `in_data` (one beat), `out_valid`, `out_ready`, `out_data` (one beat). A beat
//! moves in a clock where valid and ready are both high. The benches offer input beats and
//! take output beats at random (a seeded pattern per run, or every clock): an offered beat
//! stays offered until taken, as AXI4-Stream requires; out_ready rises and falls freely.
//! They record every output beat with its cycle, fail on a stall (no beat moves for
//! [`STALL_CYCLES`] while some are due), and check that no beat comes beyond those due.
//!
//! Cycle 0 is the first clock after reset; input is offered from it on.

use super::verilator::port_copy;
use super::{code_range, pack_hex, run_tool, tool_text, unpack_hex, RESET_CYCLES};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Clocks without any beat moving, while output is still due, that count as a deadlock.
pub const STALL_CYCLES: usize = 20_000;
/// Clocks simulated after the last due beat, to catch extra ones.
pub const TAIL_CYCLES: usize = 64;

/// A streamed design's files and beat formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDesign {
    pub sources: Vec<PathBuf>,
    pub top: String,
    /// Elements per input beat, their width and signedness.
    pub in_elements: usize,
    pub input_width: u32,
    pub input_signed: bool,
    pub out_elements: usize,
    pub output_width: u32,
    pub output_signed: bool,
}

impl StreamDesign {
    fn in_bits(&self) -> usize {
        self.in_elements * self.input_width as usize
    }

    fn out_bits(&self) -> usize {
        self.out_elements * self.output_width as usize
    }

    fn check(&self, beats: &[Vec<i64>]) -> Result<(), String> {
        let (lo, hi) = code_range(self.input_width, self.input_signed);
        for (k, beat) in beats.iter().enumerate() {
            if beat.len() != self.in_elements {
                return Err(format!(
                    "beat {k} has {} codes, design {} takes {}",
                    beat.len(),
                    self.top,
                    self.in_elements
                ));
            }
            if let Some(c) = beat.iter().find(|&&c| c < lo || c > hi) {
                return Err(format!("beat {k}: code {c} is outside {lo}..={hi}"));
            }
        }
        Ok(())
    }
}

/// How often each end is willing, in percent of clocks; 100 and 100: nothing waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pressure {
    pub offer_percent: u32,
    pub take_percent: u32,
    pub seed: u64,
}

impl Pressure {
    pub const NONE: Pressure = Pressure { offer_percent: 100, take_percent: 100, seed: 1 };
}

/// What a run saw at the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRun {
    pub beats: Vec<Vec<i64>>,
    /// The cycle each output beat moved in.
    pub cycles: Vec<usize>,
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn prepare(design: &StreamDesign, work_dir: &Path, beats: &[Vec<i64>]) -> Result<PathBuf, String> {
    design.check(beats)?;
    fs::create_dir_all(work_dir).map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
    let work_dir = work_dir.canonicalize().map_err(|e| format!("cannot resolve {}: {e}", work_dir.display()))?;
    let mut hex = String::new();
    for beat in beats {
        hex.push_str(&pack_hex(beat, design.input_width));
        hex.push('\n');
    }
    write(&work_dir.join("beats.hex"), &hex)?;
    Ok(work_dir)
}

/// Reads "<cycle> <hex>" lines, then "end" or "stall <cycle> <beats>".
fn read_outputs(design: &StreamDesign, path: &Path, due: usize) -> Result<StreamRun, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut run = StreamRun { beats: Vec::new(), cycles: Vec::new() };
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let at = || format!("{}:{}", path.display(), n + 1);
        match fields[..] {
            ["end"] => {
                if run.beats.len() > due {
                    return Err(format!(
                        "design {}: {} output beats where {due} were due (extra beats from cycle {})",
                        design.top,
                        run.beats.len(),
                        run.cycles[due]
                    ));
                }
                return Ok(run);
            }
            ["stall", cycle, inputs] => {
                return Err(format!(
                    "design {}: no beat moved for {STALL_CYCLES} clocks up to cycle {cycle}, with {inputs} input beats taken \
                     and {} of {due} output beats out",
                    design.top,
                    run.beats.len()
                ))
            }
            ["unknown", cycle] => {
                return Err(format!("design {}: in_ready or out_valid is x/z at cycle {cycle}", design.top));
            }
            [cycle, data] => {
                let cycle = cycle.parse().map_err(|_| format!("{}: cannot parse {line:?}", at()))?;
                let codes = unpack_hex(data, design.out_elements, design.output_width, design.output_signed)
                    .map_err(|e| format!("design {}: out_data at cycle {cycle}: {e}", design.top))?;
                run.cycles.push(cycle);
                run.beats.push(codes);
            }
            _ => return Err(format!("{}: cannot parse {line:?}", at())),
        }
    }
    Err(format!("the simulation of {} stopped before its end", design.top))
}

/// Runs the beats through the design in Icarus Verilog; `due` output beats are expected.
pub fn run_stream_iverilog(
    design: &StreamDesign,
    work_dir: &Path,
    beats: &[Vec<i64>],
    due: usize,
    pressure: Pressure,
) -> Result<StreamRun, String> {
    let work_dir = prepare(design, work_dir, beats)?;
    let bench = work_dir.join("stream_tb.v");
    write(&bench, &iverilog_bench(design, beats.len(), due, pressure))?;
    let compiled = work_dir.join("stream.vvp");
    let outputs = work_dir.join("stream_outputs.txt");
    let _ = fs::remove_file(&outputs);
    run_tool(
        &format!("iverilog on {}", design.top),
        Command::new("iverilog")
            .args(["-g2005", "-s", "balerc_stream_tb", "-o"])
            .arg(&compiled)
            .arg(&bench)
            .args(design.sources.iter().map(|s| std::path::absolute(s).unwrap_or_else(|_| s.clone())))
            .current_dir(&work_dir),
    )?;
    let out = run_tool(
        &format!("vvp simulation of {}", design.top),
        Command::new("vvp").arg("-n").arg(&compiled).current_dir(&work_dir),
    )?;
    read_outputs(design, &outputs, due).map_err(|e| format!("{e}\nvvp said:\n{}", tool_text(&out)))
}

fn iverilog_bench(d: &StreamDesign, inputs: usize, due: usize, p: Pressure) -> String {
    format!(
        r#"// Generated by balerc-testbench: streams beats.hex through {top} under a random
// (seeded) pattern of in_valid and out_ready, writing "<cycle> <out_data hex>" per output beat.
module balerc_stream_tb;
    reg clk = 1'b0;
    reg rst = 1'b1;
    reg in_valid = 1'b0;
    reg out_ready = 1'b0;
    reg [{in_msb}:0] in_data = {in_bits}'d0;
    wire in_ready;
    wire out_valid;
    wire [{out_msb}:0] out_data;
    reg [{in_msb}:0] beats [0:{last}];
    integer seed = {seed};
    integer f;
    integer cycle = 0;
    integer next = 0;
    integer received = 0;
    integer quiet = 0;
    integer tail = 0;
    reg moved;
    reg taken;
    reg offering = 1'b0;
    {top} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));

    initial begin
        $readmemh("beats.hex", beats);
        f = $fopen("stream_outputs.txt", "w");
        repeat ({reset}) begin
            #5 clk = 1'b1;
            #5 clk = 1'b0;
        end
        rst = 1'b0;
        while (tail < {tail_cycles} && quiet < {stall}) begin
            // Inputs change while clk is low; an offered beat stays offered until taken.
            if (!offering) offering = next < {inputs} && ($unsigned($random(seed)) % 100) < {offer};
            in_valid = offering;
            in_data = next < {inputs} ? beats[next] : {in_bits}'d0;
            out_ready = ($unsigned($random(seed)) % 100) < {take};
            #4;
            if (in_ready !== 1'b0 && in_ready !== 1'b1 || out_valid !== 1'b0 && out_valid !== 1'b1) begin
                $fwrite(f, "unknown %0d\n", cycle);
                $fclose(f);
                $finish;
            end
            moved = 1'b0;
            if (out_valid && out_ready) begin
                $fwrite(f, "%0d %h\n", cycle, out_data);
                received = received + 1;
                moved = 1'b1;
            end
            taken = in_valid && in_ready;
            #1 clk = 1'b1;
            if (taken) begin
                next = next + 1;
                offering = 1'b0;
                moved = 1'b1;
            end
            #5 clk = 1'b0;
            quiet = moved ? 0 : quiet + 1;
            if (received >= {due}) tail = tail + 1;
            cycle = cycle + 1;
        end
        if (quiet >= {stall}) $fwrite(f, "stall %0d %0d\n", cycle, next);
        else $fwrite(f, "end\n");
        $fclose(f);
        $finish;
    end
endmodule
"#,
        top = d.top,
        in_bits = d.in_bits(),
        in_msb = d.in_bits() - 1,
        out_msb = d.out_bits() - 1,
        last = inputs.max(1) - 1,
        seed = p.seed % (1 << 30),
        reset = RESET_CYCLES,
        tail_cycles = TAIL_CYCLES,
        stall = STALL_CYCLES,
        offer = p.offer_percent,
        take = p.take_percent,
    )
}

/// A streamed design built once by Verilator with a generated C++ bench.
pub struct StreamVerilatorBench {
    design: StreamDesign,
    work_dir: PathBuf,
    executable: PathBuf,
}

impl StreamVerilatorBench {
    pub fn build(design: &StreamDesign, work_dir: &Path) -> Result<Self, String> {
        fs::create_dir_all(work_dir).map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
        let work_dir = work_dir.canonicalize().map_err(|e| format!("cannot resolve {}: {e}", work_dir.display()))?;
        let bench = work_dir.join("stream_bench.cpp");
        write(&bench, &verilator_bench(design))?;
        let obj_dir = work_dir.join("stream_obj");
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        run_tool(
            &format!("verilator build of {}", design.top),
            Command::new("verilator")
                .args(["--cc", "--exe", "--build", "--no-timing", "--x-assign", "fast", "--x-initial", "unique"])
                .args(["-Wno-fatal", "-CFLAGS", "-w", "-MAKEFLAGS", "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0"])
                .args(["-j", &jobs.to_string(), "--prefix", "Vstream", "--top-module", &design.top, "-o", "Vstream"])
                .arg("--Mdir")
                .arg(&obj_dir)
                .args(design.sources.iter().map(|s| std::path::absolute(s).unwrap_or_else(|_| s.clone())))
                .arg(&bench)
                .current_dir(&work_dir),
        )?;
        Ok(Self { design: design.clone(), work_dir, executable: obj_dir.join("Vstream") })
    }

    pub fn run(&self, beats: &[Vec<i64>], due: usize, pressure: Pressure) -> Result<StreamRun, String> {
        prepare(&self.design, &self.work_dir, beats)?;
        let outputs = self.work_dir.join("stream_outputs.txt");
        let _ = fs::remove_file(&outputs);
        run_tool(
            &format!("Verilator simulation of {}", self.design.top),
            Command::new(&self.executable)
                .arg("beats.hex")
                .arg(&outputs)
                .args(
                    [
                        beats.len(),
                        due,
                        pressure.offer_percent as usize,
                        pressure.take_percent as usize,
                        pressure.seed as usize,
                    ]
                    .map(|n| n.to_string()),
                )
                .current_dir(&self.work_dir),
        )?;
        read_outputs(&self.design, &outputs, due)
    }
}

fn verilator_bench(d: &StreamDesign) -> String {
    let (in_words, out_words) = (d.in_bits().div_ceil(32), d.out_bits().div_ceil(32));
    STREAM_BENCH
        .replace("@TOP@", &d.top)
        .replace("@IN_WORDS@", &in_words.to_string())
        .replace("@OUT_WORDS@", &out_words.to_string())
        .replace("@IN_DIGITS@", &d.in_bits().div_ceil(4).to_string())
        .replace("@OUT_BITS@", &d.out_bits().to_string())
        .replace("@RESET@", &RESET_CYCLES.to_string())
        .replace("@STALL@", &STALL_CYCLES.to_string())
        .replace("@TAIL@", &TAIL_CYCLES.to_string())
        .replace("@DRIVE@", &port_copy("in_data", d.in_bits(), true))
        .replace("@SAMPLE@", &port_copy("out_data", d.out_bits(), false))
}

const STREAM_BENCH: &str = r#"// Generated by balerc-testbench: streams beats through @TOP@ under a seeded random
// pattern of in_valid and out_ready. Usage: Vstream <beats.hex> <outputs> <beats> <due>
// <offer %> <take %> <seed>.
#include "Vstream.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

static const long IN_WORDS = @IN_WORDS@, OUT_WORDS = @OUT_WORDS@, IN_DIGITS = @IN_DIGITS@, OUT_BITS = @OUT_BITS@;
static uint64_t state;
static unsigned percent() {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (unsigned)(state % 100);
}
static void drive(Vstream* top, const uint32_t* w) { @DRIVE@ }
static void sample(Vstream* top, uint32_t* w) { @SAMPLE@ }

int main(int argc, char** argv) {
    if (argc != 8) { fprintf(stderr, "usage: %s <beats.hex> <outputs> <beats> <due> <offer> <take> <seed>\n", argv[0]); return 2; }
    long inputs = atol(argv[3]), due = atol(argv[4]);
    unsigned offer = atoi(argv[5]), take = atoi(argv[6]);
    state = 0x9e3779b97f4a7c15ull ^ (uint64_t)atoll(argv[7]);
    FILE* in = fopen(argv[1], "r");
    if (!in) { perror(argv[1]); return 1; }
    std::vector<uint32_t> data(inputs * IN_WORDS + IN_WORDS, 0);
    char line[1 << 16];
    for (long n = 0; n < inputs; ++n) {
        if (!fgets(line, sizeof line, in) || (long)strcspn(line, "\r\n") != IN_DIGITS) { fprintf(stderr, "%s: bad beat %ld\n", argv[1], n); return 1; }
        for (long d = 0; d < IN_DIGITS; ++d) {
            char c = line[IN_DIGITS - 1 - d];
            uint32_t v = c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
            data[n * IN_WORDS + d / 8] |= v << (4 * (d % 8));
        }
    }
    fclose(in);
    FILE* out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 1; }
    std::unique_ptr<VerilatedContext> context(new VerilatedContext);
    context->randReset(2);
    context->randSeed(atoi(argv[7]) % 1000000 + 1);
    std::unique_ptr<Vstream> top(new Vstream(context.get()));
    std::vector<uint32_t> o(OUT_WORDS, 0);
    top->clk = 0; top->rst = 1; top->in_valid = 0; top->out_ready = 0;
    drive(top.get(), &data[inputs * IN_WORDS]);
    top->eval();
    for (int c = 0; c < @RESET@; ++c) { top->clk = 1; top->eval(); top->clk = 0; top->eval(); }
    top->rst = 0;
    long next = 0, received = 0, quiet = 0, tail = 0, cycle = 0;
    bool offering = false;
    while (tail < @TAIL@ && quiet < @STALL@) {
        if (!offering) offering = next < inputs && percent() < offer;
        top->in_valid = offering;
        drive(top.get(), &data[(next < inputs ? next : inputs) * IN_WORDS]);
        top->out_ready = percent() < take;
        top->eval();
        bool moved = false;
        if (top->out_valid && top->out_ready) {
            std::fill(o.begin(), o.end(), 0);
            sample(top.get(), o.data());
            fprintf(out, "%ld ", cycle);
            for (long d = (OUT_BITS + 3) / 4 - 1; d >= 0; --d) fputc("0123456789abcdef"[(o[d / 8] >> (4 * (d % 8))) & 15], out);
            fputc('\n', out);
            ++received;
            moved = true;
        }
        bool taken = top->in_valid && top->in_ready;
        top->clk = 1; top->eval();
        top->clk = 0; top->eval();
        if (taken) { ++next; offering = false; moved = true; }
        quiet = moved ? 0 : quiet + 1;
        if (received >= due) ++tail;
        ++cycle;
    }
    if (quiet >= @STALL@) fprintf(out, "stall %ld %ld\n", cycle, next); else fprintf(out, "end\n");
    top->final();
    return fclose(out) == 0 ? 0 : 1;
}
"#;

//! Checks the RTL drivers on two hand-written designs that follow the streaming contract:
//! `pipe2` (3 signed 8-bit inputs, 2 10-bit outputs in0+in1+in2 and in0-2*in2, latency 2)
//! and `wide_pass` (300 12-bit elements passed through, latency 1). Verilator and Icarus
//! must return exactly the codes computed here, lint must pass, a wrong latency must be
//! reported, and yosys must find LUTs and flip-flops in `pipe2`. A third design, `sum5`
//! (combinational, unsigned, 45/40-bit ports), covers latency 0 and Verilator's 64-bit port
//! type; broken variants check that port-width mismatches and `x` outputs are reported.
//!
//! Without a tool its tests are skipped, unless `CI` is set. Work directories of failed
//! tests stay in the temp directory.

use balerc_testbench::require;
use balerc_testbench::rtl::{
    iverilog_available, lint, run_iverilog, synthesize, verilator_available, yosys_available, RtlDesign, VerilatorBench,
};
use std::fs;
use std::path::PathBuf;

const PIPE2: &str = r#"// in0 + in1 + in2 and in0 - 2*in2 of three signed 8-bit codes, registered twice.
module pipe2 (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    input  wire [23:0] in_data,
    output wire        out_valid,
    output wire [19:0] out_data
);
    wire [9:0] a = {{2{in_data[7]}}, in_data[7:0]};
    wire [9:0] b = {{2{in_data[15]}}, in_data[15:8]};
    wire [9:0] c = {{2{in_data[23]}}, in_data[23:16]};
    wire [9:0] sum = a + b + c;
    wire [9:0] diff = a - {c[8:0], 1'b0};
    reg  [19:0] s1;
    reg  [19:0] s2;
    reg         v1;
    reg         v2;
    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            v2 <= 1'b0;
        end else begin
            v1 <= in_valid;
            v2 <= v1;
        end
        s1 <= {diff, sum};
        s2 <= s1;
    end
    assign out_valid = v2;
    assign out_data = s2;
endmodule
"#;

const WIDE_PASS: &str = r#"// 300 12-bit elements, registered once.
module wide_pass (
    input  wire          clk,
    input  wire          rst,
    input  wire          in_valid,
    input  wire [3599:0] in_data,
    output wire          out_valid,
    output wire [3599:0] out_data
);
    reg [3599:0] d;
    reg          v;
    always @(posedge clk) begin
        if (rst) v <= 1'b0;
        else v <= in_valid;
    end
    genvar i;
    generate
        for (i = 0; i < 300; i = i + 1) begin : element
            always @(posedge clk) d[i*12 +: 12] <= in_data[i*12 +: 12];
        end
    endgenerate
    assign out_valid = v;
    assign out_data = d;
endmodule
"#;

/// Not one of the two required designs: a combinational one (latency 0) whose ports are
/// 33..64 bits wide (QData in Verilator), with unsigned codes.
const SUM5: &str = r#"// Five unsigned 9-bit codes: their sum and in0 * in4, as 20-bit unsigned codes.
module sum5 (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    input  wire [44:0] in_data,
    output wire        out_valid,
    output wire [39:0] out_data
);
    wire [19:0] x0 = {11'd0, in_data[8:0]};
    wire [19:0] x1 = {11'd0, in_data[17:9]};
    wire [19:0] x2 = {11'd0, in_data[26:18]};
    wire [19:0] x3 = {11'd0, in_data[35:27]};
    wire [19:0] x4 = {11'd0, in_data[44:36]};
    wire [19:0] sum = x0 + x1 + x2 + x3 + x4;
    wire [19:0] product = x0 * x4;
    wire        unused = &{1'b0, clk, rst};
    assign out_valid = in_valid;
    assign out_data = {product, sum};
endmodule
"#;

/// A directory holding one design's source, removed when the test passes.
struct Work {
    dir: PathBuf,
    design: RtlDesign,
}

impl Work {
    fn new(test: &str, top: &str, source: &str, design: impl FnOnce(PathBuf) -> RtlDesign) -> Self {
        let dir = std::env::temp_dir().join(format!("rtl_drivers_{test}_{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{top}.v"));
        fs::write(&file, source).unwrap();
        Work { design: design(file), dir }
    }

    fn pipe2(test: &str) -> Self {
        Work::new(test, "pipe2", PIPE2, |file| RtlDesign {
            sources: vec![file],
            top: "pipe2".into(),
            inputs: 3,
            input_width: 8,
            input_signed: true,
            outputs: 2,
            output_width: 10,
            output_signed: true,
            latency: 2,
            ii: 1,
        })
    }

    fn wide(test: &str) -> Self {
        Work::new(test, "wide_pass", WIDE_PASS, |file| RtlDesign {
            sources: vec![file],
            top: "wide_pass".into(),
            inputs: 300,
            input_width: 12,
            input_signed: true,
            outputs: 300,
            output_width: 12,
            output_signed: true,
            latency: 1,
            ii: 1,
        })
    }
}

impl Work {
    fn sum5(test: &str) -> Self {
        Work::new(test, "sum5", SUM5, |file| RtlDesign { sources: vec![file], ..Work::sum5_design() })
    }

    fn sum5_design() -> RtlDesign {
        RtlDesign {
            sources: vec![],
            top: "sum5".into(),
            inputs: 5,
            input_width: 9,
            input_signed: false,
            outputs: 2,
            output_width: 20,
            output_signed: false,
            latency: 0,
            ii: 1,
        }
    }
}

fn sum5_vectors(n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = Rng(seed);
    let mut v = vec![vec![511; 5], vec![0; 5]];
    v.extend((0..n).map(|_| (0..5).map(|_| (rng.next() % 512) as i64).collect()));
    v
}

fn sum5_expected(vectors: &[Vec<i64>]) -> Vec<Vec<i64>> {
    vectors.iter().map(|v| vec![v.iter().sum(), v[0] * v[4]]).collect()
}

impl Drop for Work {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("work directory kept: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// splitmix64, so runs are reproducible without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A signed `width`-bit code, with the extremes more often than uniform.
    fn code(&mut self, width: u32) -> i64 {
        let (lo, hi) = (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1);
        match self.next() % 8 {
            0 => lo,
            1 => hi,
            _ => lo + (self.next() % (1u64 << width)) as i64,
        }
    }
}

fn pipe2_vectors(n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = Rng(seed);
    let mut v: Vec<Vec<i64>> =
        vec![vec![-128, -128, -128], vec![127, 127, 127], vec![-128, 0, 127], vec![127, 0, -128]];
    v.extend((0..n).map(|_| (0..3).map(|_| rng.code(8)).collect()));
    v
}

fn pipe2_expected(vectors: &[Vec<i64>]) -> Vec<Vec<i64>> {
    vectors.iter().map(|v| vec![v[0] + v[1] + v[2], v[0] - 2 * v[2]]).collect()
}

fn wide_vectors(n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = Rng(seed);
    (0..n).map(|_| (0..300).map(|_| rng.code(12)).collect()).collect()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let t = f();
    eprintln!("{what}: {:.2?}", start.elapsed());
    t
}

#[test]
fn verilator_pipe2() {
    let Some(()) = require(verilator_available()) else { return };
    let work = Work::pipe2("verilator_pipe2");
    let bench = timed("verilator build pipe2", || VerilatorBench::build(&work.design, &work.dir.join("vl")))
        .unwrap_or_else(|e| panic!("{e}"));
    let vectors = pipe2_vectors(500, 1);
    let got = timed("verilator run pipe2", || bench.run(&vectors)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, pipe2_expected(&vectors));
    // The same build runs again, on fewer vectors.
    let few = pipe2_vectors(0, 2)[..1].to_vec();
    assert_eq!(bench.run(&few).unwrap(), pipe2_expected(&few));
    assert_eq!(bench.run(&[]).unwrap(), Vec::<Vec<i64>>::new());
    // Codes outside the input type are refused.
    assert!(bench.run(&[vec![0, 128, 0]]).unwrap_err().contains("outside"));
    assert!(bench.run(&[vec![0, 0]]).unwrap_err().contains("has 2 codes"));
}

#[test]
fn verilator_reports_wrong_latency() {
    let Some(()) = require(verilator_available()) else { return };
    let mut work = Work::pipe2("verilator_latency");
    work.design.latency = 3;
    let bench = VerilatorBench::build(&work.design, &work.dir.join("vl")).unwrap_or_else(|e| panic!("{e}"));
    let err = bench.run(&pipe2_vectors(20, 3)).unwrap_err();
    eprintln!("expected error: {err}");
    assert!(err.contains("output 0 came at cycle 2, expected at input cycle 0 + latency 3"), "{err}");
}

#[test]
fn verilator_wide() {
    let Some(()) = require(verilator_available()) else { return };
    let work = Work::wide("verilator_wide");
    let bench = timed("verilator build wide_pass", || VerilatorBench::build(&work.design, &work.dir.join("vl")))
        .unwrap_or_else(|e| panic!("{e}"));
    let vectors = wide_vectors(200, 4);
    let got = timed("verilator run wide_pass", || bench.run(&vectors)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, vectors);
}

#[test]
fn verilator_combinational_unsigned() {
    let Some(()) = require(verilator_available()) else { return };
    let work = Work::sum5("verilator_sum5");
    let bench = VerilatorBench::build(&work.design, &work.dir.join("vl")).unwrap_or_else(|e| panic!("{e}"));
    let vectors = sum5_vectors(300, 7);
    assert_eq!(bench.run(&vectors).unwrap_or_else(|e| panic!("{e}")), sum5_expected(&vectors));
}

#[test]
fn iverilog_combinational_unsigned() {
    let Some(()) = require(iverilog_available()) else { return };
    let work = Work::sum5("iverilog_sum5");
    let vectors = sum5_vectors(300, 8);
    let got = run_iverilog(&work.design, &work.dir.join("iv"), &vectors).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, sum5_expected(&vectors));
}

#[test]
fn iverilog_pipe2() {
    let Some(()) = require(iverilog_available()) else { return };
    let mut work = Work::pipe2("iverilog_pipe2");
    let vectors = pipe2_vectors(500, 5);
    let got = timed("iverilog pipe2", || run_iverilog(&work.design, &work.dir.join("iv"), &vectors))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, pipe2_expected(&vectors));
    assert_eq!(run_iverilog(&work.design, &work.dir.join("iv"), &[]).unwrap(), Vec::<Vec<i64>>::new());
    for (latency, expected) in [
        (1, "output 0 came at cycle 2, expected at input cycle 0 + latency 1"),
        (3, "output 0 came at cycle 2, expected at input cycle 0 + latency 3"),
    ] {
        work.design.latency = latency;
        let err = run_iverilog(&work.design, &work.dir.join("iv"), &vectors).unwrap_err();
        eprintln!("expected error: {err}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn iverilog_wide() {
    let Some(()) = require(iverilog_available()) else { return };
    let work = Work::wide("iverilog_wide");
    let vectors = wide_vectors(200, 6);
    let got = timed("iverilog wide_pass", || run_iverilog(&work.design, &work.dir.join("iv"), &vectors))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, vectors);
}

#[test]
fn iverilog_reports_port_width_mismatch() {
    let Some(()) = require(iverilog_available()) else { return };
    let mut work = Work::pipe2("iverilog_ports");
    work.design.inputs = 4;
    let err = run_iverilog(&work.design, &work.dir.join("iv"), &[vec![1, 2, 3, 4]]).unwrap_err();
    eprintln!("expected error: {err}");
    assert!(err.contains("does not match the port contract"), "{err}");
}

#[test]
fn lint_passes() {
    let Some(()) = require(verilator_available()) else { return };
    for work in [Work::pipe2("lint_pipe2"), Work::wide("lint_wide"), Work::sum5("lint_sum5")] {
        lint(&work.design).unwrap_or_else(|e| panic!("{e}"));
    }
    let work = Work::new(
        "lint_bad",
        "bad",
        "module bad (input wire [3:0] a, output wire [1:0] y);\n    assign y = a;\nendmodule\n",
        |file| RtlDesign {
            sources: vec![file],
            top: "bad".into(),
            inputs: 1,
            input_width: 4,
            input_signed: false,
            outputs: 1,
            output_width: 2,
            output_signed: false,
            latency: 0,
            ii: 1,
        },
    );
    let err = lint(&work.design).unwrap_err();
    eprintln!("expected error: {err}");
    assert!(err.contains("%Warning-WIDTH"), "{err}");
}

#[test]
fn yosys_pipe2() {
    let Some(()) = require(yosys_available()) else { return };
    let work = Work::pipe2("yosys_pipe2");
    let r =
        timed("yosys pipe2", || synthesize(&work.design, &work.dir.join("yosys"))).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{r:?}");
    assert!(r.lut > 0 && r.ff > 0, "{r:?}");
    // 2 valid bits + 2 x 20 data bits, all in flip-flops.
    assert_eq!(r.ff, 42, "{r:?}");
    assert_eq!(r.dsp, 0, "{r:?}");
}

#[test]
fn verilator_reports_port_width_mismatch() {
    let Some(()) = require(verilator_available()) else { return };
    let mut work = Work::sum5("verilator_ports");
    work.design.inputs = 4;
    let err = VerilatorBench::build(&work.design, &work.dir.join("vl")).unwrap_err();
    eprintln!("expected error: {err}");
    assert!(err.contains("does not match the port contract") && err.contains("in_data"), "{err}");
}

#[test]
fn iverilog_reports_unknown_bits() {
    let Some(()) = require(iverilog_available()) else { return };
    // The product half of out_data comes from a register nothing writes.
    let source = SUM5.replace("wire [19:0] product = x0 * x4;", "reg [19:0] product;");
    let work =
        Work::new("iverilog_x", "sum5", &source, |file| RtlDesign { sources: vec![file], ..Work::sum5_design() });
    let err = run_iverilog(&work.design, &work.dir.join("iv"), &sum5_vectors(3, 9)).unwrap_err();
    eprintln!("expected error: {err}");
    assert!(err.contains("out_data at cycle 0: x/z bits in elements 1"), "{err}");
}

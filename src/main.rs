//! The `balerc` command line: argument parsing only; the work lives in the crates.

mod compression;
mod report;
mod spinner;
mod training;

// Training allocates and frees many short-lived tensors; mimalloc makes an epoch about 20 % faster
// than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Compression allocates and frees chunk-sized arrays over and over. mimalloc hands freed
/// memory back to the system within milliseconds by default, and the kernel then zeroes every
/// page of the next chunk's arrays afresh: a third of a compression's time. Freed memory is
/// kept for reuse instead; the peak is unchanged, it only stays the process's until it exits.
fn keep_freed_memory() {
    // mi_option_purge_delay in mimalloc.h (the same in its versions 2 and 3); -1 never purges.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: called first in main, before any other thread that could read the options.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

use anyhow::{bail, Context, Result};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::passes::Part;
use balerc_compiler::quant::precision_report;
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::Lowered;
use balerc_io::atomic::AtomicDir;
use balerc_runtime::array::{read_npy, write_npy_f32, write_npy_i64, Array};
use balerc_runtime::lowering::{batch_size, LowerRequest, PrecisionChoice};
use balerc_testbench::cosim::{cosim, CosimOptions, Tool};
use balerc_verilog::Multipliers;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "balerc",
    version,
    about = "Autoencoder compression for scientific data, compiled to bit-exact FPGA hardware"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a project folder with a documented balerc.toml.
    New { dir: PathBuf },
    /// Train an autoencoder on the project's data and save the model directory.
    Train(training::TrainArgs),
    /// Compress data with a trained model into a .baler file.
    Compress(compression::CompressArgs),
    /// Restore the data of a .baler file.
    Decompress(compression::DecompressArgs),
    /// Compare a reconstruction with its original: metrics, plots and one HTML page.
    Evaluate(compression::EvaluateArgs),
    /// Describe a .baler file: shape, model, sizes, ratio, bounds.
    Info {
        file: PathBuf,
        /// Print the facts as JSON, for programs.
        #[arg(long)]
        json: bool,
    },
    /// Write a model directory's ONNX files (autoencoder, encoder, decoder) again.
    ExportOnnx {
        /// A model directory written by balerc train.
        model: PathBuf,
        /// Where to write them (default: the model directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Lower a model to the quantized IR and print its per-layer precision table.
    Lower {
        #[command(flatten)]
        model: ModelArgs,
        /// Print the optimized dataflow graph.
        #[arg(long)]
        dump_ir: bool,
        /// Generate hardware: verilog or hls.
        #[arg(long, requires = "out")]
        target: Option<Target>,
        /// The build directory to write.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        hardware: HardwareArgs,
    },
    /// Run a model bit-exactly (or in floating point) on a batch of inputs.
    Simulate {
        #[command(flatten)]
        model: ModelArgs,
        /// Input samples (.npy), batch dimension first.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the outputs (.npy), batch dimension first.
        #[arg(long)]
        output: PathBuf,
        /// Write the raw integer codes (int64) instead of their values.
        #[arg(long, conflicts_with = "float")]
        raw: bool,
        /// Run the optimized graph in floating point instead of fixed point.
        #[arg(long)]
        float: bool,
    },
    /// Co-simulate a generated build directory against the bit-exact simulator.
    Cosim {
        /// A directory written by `balerc lower --target verilog`.
        dir: PathBuf,
        /// Random vectors, after the corner cases and the --input samples.
        #[arg(long, default_value_t = 1000)]
        vectors: usize,
        /// verilator or iverilog for a Verilog build, gxx for an HLS build.
        #[arg(long, default_value = "verilator")]
        simulator: Tool,
        /// Real samples (.npy) to include, quantized as the model's input.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Seed of the random vectors.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// What a model costs in hardware, fully parallel and folded, before any synthesis; or a
    /// build directory's report (synthesized with yosys if asked).
    ///
    /// Given a model (an ONNX file or a model directory, with the precision options of
    /// `lower`), lowers it to Verilog in memory at each reuse factor and prints estimated
    /// LUT, FF, DSP, BRAM, latency and II per form. Given a build directory written by
    /// `lower --target verilog|hls`, prints its report.json, with the yosys counts once
    /// `--synthesize` has recorded them.
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Build directory: estimate LUT/FF/CARRY/DSP/BRAM with yosys (synth_xilinx -family
    /// xcup) and record them in its report.json.
    #[arg(long)]
    synthesize: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Model: the reuse factors to lower at, e.g. 1,2,4 [default: every legal one when there
    /// are at most 16, else 1, the powers of two and the largest].
    #[arg(long, value_name = "R,...", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    reuse_factors: Vec<u32>,
    /// Model: the multiplier styles to cost, e.g. auto,shift-add,dsp.
    #[arg(long, value_name = "STYLE,...", value_delimiter = ',', default_value = "auto")]
    multipliers: Vec<Multipliers>,
    /// Model: the LUTs a DSP slice counts as under --multipliers auto.
    #[arg(long, value_name = "LUTS", default_value_t = balerc_verilog::DEFAULT_DSP_COST)]
    dsp_cost: u32,
    /// Model: at most N products on DSP slices under --multipliers auto.
    #[arg(long, value_name = "N")]
    dsp_budget: Option<u64>,
    /// Model: target clock period in nanoseconds (sets how deep adder trees are pipelined).
    #[arg(long, default_value_t = 5.0)]
    clock_ns: f64,
    /// Model: as for lower.
    #[arg(long, value_name = "N", default_value_t = balerc_verilog::DEFAULT_SHARING_PAIRS)]
    sharing_pairs: usize,
    /// Model: a register stage after every K adder levels inside a layer.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    adder_levels_per_stage: Option<u32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    Verilog,
    Hls,
}

#[derive(Args)]
struct HardwareArgs {
    /// Name of the top module.
    #[arg(long, default_value = "balerc_top")]
    top: String,
    /// Constant multipliers (Verilog): auto (DSP slices for the products where one is
    /// cheaper than shift-add terms, densest weights first), shift-add (no DSPs) or dsp.
    #[arg(long, default_value = "auto")]
    multipliers: Multipliers,
    /// The LUTs a DSP slice counts as under --multipliers auto (default: its share of an
    /// xcvu9p, 1,182,240 LUTs / 6,840 DSPs).
    #[arg(long, value_name = "LUTS", default_value_t = balerc_verilog::DEFAULT_DSP_COST)]
    dsp_cost: u32,
    /// At most N products on DSP slices under --multipliers auto.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    dsp_budget: Option<u64>,
    /// Target clock period in nanoseconds: sets the constraint file and, unless
    /// --adder-levels-per-stage is given, how deep adder trees are pipelined.
    #[arg(long, default_value_t = 5.0)]
    clock_ns: f64,
    /// Share each layer's products over R clocks (a new sample every R clocks). Verilog: R
    /// from 1 to the products of the shortest layer's outputs, per layer with `reuse_factor`
    /// in a layer table of the --config file; HLS: R must divide every layer's
    /// multiplication count. An illegal R is refused with the legal values.
    #[arg(long, value_name = "R", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    reuse_factor: u32,
    /// Verilog: layers with more pairs of shift-add terms than this skip the search for
    /// shared subexpressions (raise it for fewer adders on wide layers, at the cost of
    /// lowering time and memory).
    #[arg(long, value_name = "N", default_value_t = balerc_verilog::DEFAULT_SHARING_PAIRS)]
    sharing_pairs: usize,
    /// How samples enter: parallel (the whole input vector at once) or stream (pixels one
    /// per beat, convolutions over line buffers: Verilog with valid/ready on both ends, HLS
    /// with hls::stream; the contracts are in docs/verilog.md and docs/hls.md).
    #[arg(long, default_value = "parallel")]
    io: balerc_verilog::Io,
    /// The FPGA part for the HLS project.
    #[arg(long, default_value = "xcvu9p-flga2104-2L-e")]
    fpga_part: String,
    /// A register stage after every K adder levels inside a layer (Verilog).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    adder_levels_per_stage: Option<u32>,
}

#[derive(Args)]
struct ModelArgs {
    /// An ONNX model file, or a model directory written by balerc train.
    model: PathBuf,
    /// Which part of an autoencoder to take: full, encoder or decoder.
    #[arg(long, default_value = "full")]
    part: Part,
    /// The default type of every tensor, e.g. 'ap_fixed<16,6>' [default: a model directory's
    /// precision.toml when it was trained with --qat, else ap_fixed<16,6>]. A quantized model
    /// (QONNX, QDQ) keeps its own types; this applies only to the tensors it leaves float.
    #[arg(long)]
    precision: Option<FixedType>,
    /// A precision TOML file (per model, per layer, per tensor); overrides --precision. Like
    /// --precision, it sets only the tensors a quantized model leaves float.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Calibration samples (.npy): integer bits are chosen so none of them overflows.
    #[arg(long)]
    calibration: Option<PathBuf>,
}

impl ModelArgs {
    fn request(&self) -> LowerRequest {
        LowerRequest {
            model: self.model.clone(),
            part: self.part,
            precision: self.precision,
            config: self.config.clone(),
        }
    }

    fn lower(&self) -> Result<(Lowered, Option<Array>)> {
        let request = self.request();
        let precision = request.precision_choice();
        if let PrecisionChoice::Trained(path) = &precision {
            eprintln!("using {}, the precision the model was trained for", path.display());
        }
        let config = precision.load()?;
        let calibration = self.calibration.as_deref().map(read_npy).transpose()?;
        let (file, _) = request.onnx_file(&precision);
        let _spinner = spinner::Spinner::on_terminal(format!("lowering {}", file.display()));
        Ok((request.lower_with(&precision, config, calibration.as_ref().map(|a| a.data.clone()))?, calibration))
    }
}

fn main() {
    keep_freed_memory();
    exit_quietly_on_closed_pipe();
    let cli = Cli::parse();
    stop_cleanly_on_interrupt(matches!(cli.command, Command::Compress(_) | Command::Decompress(_)));
    if let Err(error) = run(cli) {
        if let Some(signal) = balerc_io::interrupt::requested() {
            eprintln!("interrupted: nothing was written");
            std::process::exit(128 + signal);
        }
        let message = balerc_runtime::message::joined(error.chain().map(|e| e.to_string()));
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// `balerc train ... | head -1` should end like any Unix tool when the reader goes away,
/// not with a panic about a broken pipe.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Ctrl-C, SIGTERM and SIGHUP stop the work, and no partial output is left. Work that looks for
/// stops (`looks_for_stops`: compress and decompress, between chunks) is asked to stop and
/// removes its partial output as it unwinds; other work ends at once with the partial outputs
/// removed. A second signal always ends the process at once.
fn stop_cleanly_on_interrupt(looks_for_stops: bool) {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(signals) => signals,
            Err(_) => return, // the default: the process ends, leaving recognisable .partial-* files
        };
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if looks_for_stops && balerc_io::interrupt::requested().is_none() {
                    balerc_io::interrupt::request(signal);
                    continue;
                }
                eprintln!("interrupted: nothing was written");
                balerc_io::atomic::exit_removing_partials(128 + signal);
            }
        });
    }
    #[cfg(not(unix))]
    let _ = looks_for_stops;
}

/// `balerc lower`: the per-layer table, and with `--target` the build directory, which
/// appears whole or not at all.
fn lower_command(
    model: &ModelArgs,
    dump_ir: bool,
    target: Option<Target>,
    out: Option<&Path>,
    hardware: HardwareArgs,
) -> Result<()> {
    // Checked before the work: a directory that is not a build is never replaced.
    let build = out.map(|dir| AtomicDir::create(dir, "report.json")).transpose()?;
    let started = Instant::now();
    let (lowered, calibration) = model.lower()?;
    let elapsed = started.elapsed();
    if dump_ir {
        print!("{}", lowered.graph);
    }
    let data = calibration.as_ref().map(|a| a.data.as_slice());
    print!("{}", precision_report(&lowered.graph, &lowered.model, &lowered.precision, data)?);
    eprintln!("lowered {} in {:.1} ms", model.model.display(), elapsed.as_secs_f64() * 1e3);
    let layer_reuse = lowered.precision.reuse_factors();
    if let (Some(Target::Hls), Some(layer)) = (target, layer_reuse.keys().next()) {
        bail!("the precision file sets a reuse factor for layer '{layer}'; per-layer reuse factors apply to --target verilog (HLS takes one --reuse-factor)");
    }
    let (Some(target), Some(build), Some(dir)) = (target, build, out) else { return Ok(()) };
    let started = Instant::now();
    match target {
        Target::Hls => write_hls(&lowered, &hardware, build, dir, started),
        Target::Verilog => write_verilog(&lowered, hardware, layer_reuse, build, dir, started),
    }
}

fn write_hls(lowered: &Lowered, hardware: &HardwareArgs, build: AtomicDir, dir: &Path, started: Instant) -> Result<()> {
    let options = balerc_hls::Options {
        top: hardware.top.clone(),
        part: hardware.fpga_part.clone(),
        clock_ns: hardware.clock_ns,
        reuse_factor: hardware.reuse_factor,
        io: hardware.io,
    };
    balerc_hls::write_project(&lowered.model, &options, build.path())?;
    build.commit()?;
    eprintln!(
        "wrote {} in {:.1} ms (HLS project; check it with balerc cosim {} --simulator gxx)",
        dir.display(),
        started.elapsed().as_secs_f64() * 1e3,
        dir.display()
    );
    Ok(())
}

fn write_verilog(
    lowered: &Lowered,
    hardware: HardwareArgs,
    layer_reuse: std::collections::BTreeMap<String, u32>,
    build: AtomicDir,
    dir: &Path,
    started: Instant,
) -> Result<()> {
    let options = balerc_verilog::Options {
        top: hardware.top,
        multipliers: hardware.multipliers,
        dsp: balerc_verilog::DspPolicy { lut_cost: hardware.dsp_cost, budget: hardware.dsp_budget },
        clock_ns: hardware.clock_ns,
        sharing_pairs: hardware.sharing_pairs,
        reuse: balerc_verilog::ReuseFactors { default: hardware.reuse_factor, layers: layer_reuse },
        io: hardware.io,
        adder_levels_per_stage: Some(
            hardware
                .adder_levels_per_stage
                .unwrap_or_else(|| balerc_verilog::adder_levels_for_clock(hardware.clock_ns)),
        ),
    };
    let spinner = spinner::Spinner::on_terminal(format!("writing the Verilog design into {}", dir.display()));
    let report = balerc_verilog::write_project(&lowered.model, &options, build.path())?;
    build.commit()?;
    drop(spinner);
    if let Some(stream) = &report.stream {
        eprintln!(
            "wrote {} in {:.1} ms: streamed, {} input beats of {} and {} output beats of {} per frame, a frame every {} clocks, \
             {} cycles from a frame's first input beat to its last output beat, {} adders ({} adder bits), {} register bits, \
             line buffers of {} bits, {} products on DSP slices",
            dir.display(),
            started.elapsed().as_secs_f64() * 1e3,
            stream.input_beat.beats,
            stream.input_beat.elements,
            stream.output_beat.beats,
            stream.output_beat.elements,
            stream.cycles_per_frame,
            report.latency_cycles,
            report.resources.adders,
            report.resources.adder_bits,
            report.resources.register_bits,
            stream.buffer_bits,
            report.resources.dsp_products
        );
        return Ok(());
    }
    eprintln!(
        "wrote {} in {:.1} ms: latency {} cycles, a sample every {} clock{}, {} adders ({} adder bits), {} register bits, {} products on DSP slices",
        dir.display(),
        started.elapsed().as_secs_f64() * 1e3,
        report.latency_cycles,
        report.ii,
        if report.ii == 1 { "" } else { "s" },
        report.resources.adders,
        report.resources.adder_bits,
        report.resources.register_bits,
        report.resources.dsp_products
    );
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::New { dir } => training::new_project(&dir),
        Command::Train(args) => training::train(&args),
        Command::Compress(args) => compression::compress(&args),
        Command::Decompress(args) => compression::decompress(&args),
        Command::Info { file, json } => compression::info(&file, json),
        Command::Evaluate(args) => compression::evaluate(&args),
        Command::ExportOnnx { model, out } => training::export_onnx(&model, out.as_deref()),
        Command::Lower { model, dump_ir, target, out, hardware } => {
            lower_command(&model, dump_ir, target, out.as_deref(), hardware)
        }
        Command::Cosim { dir, vectors, simulator, input, seed } => run_cosim(dir, vectors, simulator, input, seed),
        Command::Report(args) => {
            let path = &args.model.model;
            if report::is_build_dir(path) {
                return report::show(path, args.synthesize, args.json);
            }
            if args.synthesize {
                bail!(
                    "--synthesize needs a build directory, and {} is a model: write one with balerc lower {} --target verilog --out DIR, then run balerc report DIR --synthesize",
                    path.display(),
                    path.display()
                );
            }
            let (lowered, _) = args.model.lower()?;
            let settings = report::Settings {
                reuse_factors: args.reuse_factors,
                multipliers: args.multipliers,
                layer_reuse: lowered.precision.reuse_factors(),
                dsp: balerc_verilog::DspPolicy { lut_cost: args.dsp_cost, budget: args.dsp_budget },
                clock_ns: args.clock_ns,
                sharing_pairs: args.sharing_pairs,
                adder_levels_per_stage: args
                    .adder_levels_per_stage
                    .unwrap_or_else(|| balerc_verilog::adder_levels_for_clock(args.clock_ns)),
            };
            report::forms(&lowered.model, &settings, args.json)
        }
        Command::Simulate { model, input, output, raw, float } => {
            let (lowered, _) = model.lower()?;
            let x = read_npy(&input)?;
            let per_sample = lowered.model.input().len();
            let batch = batch_size(&x.shape, per_sample).with_context(|| format!("input {}", input.display()))?;
            let mut shape = vec![batch];
            shape.extend(&lowered.model.output().shape);
            let started = Instant::now();
            let spinner = spinner::Spinner::on_terminal(format!("simulating {batch} samples of {}", input.display()));
            if float {
                let program = FloatProgram::new(&lowered.graph)?;
                write_npy_f32(&output, &shape, &program.run(&x.data))?;
            } else {
                let simulator = Simulator::new(&lowered.model);
                let codes = simulator.quantize_input(&x.data).with_context(|| format!("input {}", input.display()))?;
                let y = simulator.run(&codes);
                if raw {
                    write_npy_i64(&output, &shape, &y)?;
                } else {
                    write_npy_f32(&output, &shape, &lowered.model.output_values(&y))?;
                }
            }
            drop(spinner);
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "simulated {batch} samples in {:.1} ms ({:.0} samples/s); output {} {:?} {}",
                seconds * 1e3,
                batch as f64 / seconds,
                output.display(),
                shape,
                if float {
                    "f32".to_string()
                } else if raw {
                    format!("int64 codes of {}", lowered.model.output().ty)
                } else {
                    format!("values of {}", lowered.model.output().ty)
                }
            );
            Ok(())
        }
    }
}

fn run_cosim(dir: PathBuf, vectors: usize, tool: Tool, input: Option<PathBuf>, seed: u64) -> Result<()> {
    let data = input.as_deref().map(read_npy).transpose()?.map(|a| a.data);
    let tool_name = match tool {
        Tool::Verilator => "verilator",
        Tool::Iverilog => "iverilog",
        Tool::Gxx => "g++ C simulation",
    };
    let spinner = spinner::Spinner::on_terminal(format!("building and running {} with {tool_name}", dir.display()));
    let outcome = cosim(&dir, &CosimOptions { vectors, tool, data, seed }).map_err(anyhow::Error::msg)?;
    drop(spinner);
    if outcome.mismatches.is_empty() {
        println!(
            "{}: {} vectors, every output code equals the simulator's ({tool_name}: build {:.1} s, run {:.2} s)",
            dir.display(),
            outcome.vectors,
            outcome.build_seconds,
            outcome.run_seconds
        );
        return Ok(());
    }
    for m in outcome.mismatches.iter().take(10) {
        println!("vector {} element {}: hardware {} simulator {}", m.vector, m.element, m.hardware, m.simulator);
    }
    bail!(
        "{} of {} output codes disagree with the simulator",
        outcome.differing_codes,
        outcome.vectors * lowered_outputs(&dir)?
    )
}

/// Output elements per vector of a build directory.
fn lowered_outputs(dir: &std::path::Path) -> Result<usize> {
    let text = std::fs::read_to_string(dir.join("report.json"))?;
    let report: serde_json::Value = serde_json::from_str(&text)?;
    Ok(report["output"]["count"].as_u64().unwrap_or(0) as usize)
}

//! The build directory a user takes into Vivado: RTL, report, constraints, IP packaging.

use crate::{generate, Cost, Design, Error, Io, Multipliers, Options, StreamReport};
use balerc_compiler::quant::QuantizedModel;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub count: usize,
    #[serde(rename = "type")]
    pub ty: String,
}

/// `report.json`: the contract fields plus what the hardware costs.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub top: String,
    pub target: &'static str,
    pub input: Port,
    pub output: Port,
    pub latency_cycles: usize,
    pub ii: usize,
    /// parallel: a whole sample per input; stream: pixels one per beat.
    pub io: Io,
    /// How samples enter: every clock, or through in_ready when II > 1.
    pub handshake: &'static str,
    pub clock_ns: f64,
    pub multipliers: Multipliers,
    /// The LUTs a DSP slice counted as when `multipliers` is auto chose product by product.
    pub dsp_cost: u32,
    /// The most products auto could put on DSP slices; null when unbounded.
    pub dsp_budget: Option<u64>,
    /// Each dense or conv layer's reuse factor and latency.
    pub layers: Vec<LayerReuse>,
    pub resources: Resources,
    /// Beat layouts, cycles per frame and buffer memory of a streamed design.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamReport>,
}

/// A dense or conv layer's folding.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReuse {
    pub name: String,
    /// Clocks its products are shared over (1: fully parallel).
    pub reuse_factor: u32,
    /// Cycles from its input to its output register.
    pub latency_cycles: usize,
}

/// The handshake of a design taking a sample every clock.
const EVERY_CLOCK: &str = "in_valid: a sample every clock, no in_ready port";
/// The handshake of a folded design.
const IN_READY: &str = "in_ready: a sample enters in a clock with in_valid and in_ready both high; \
in_ready then stays low for ii - 1 clocks, and a sample offered meanwhile waits (in_valid may stay high)";

/// The handshake of a streamed design.
const STREAM: &str = "valid/ready on both ends: a beat moves in a clock where valid and ready are both high; \
in_ready and out_valid may fall at any time, and out_ready may be held low for any time without losing a beat";

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub adders: u64,
    pub adder_bits: u64,
    pub register_bits: u64,
    /// Products (folded: slots) written as `*`, one DSP slice each.
    pub dsp_products: u64,
    /// LUTs, estimated, of the multiplexers, tables and gates of folded layers, of the
    /// comparisons of clip and max-pool layers, and of the weight tables and shift
    /// registers of streamed designs.
    pub mux_luts: u64,
    /// LUTs, estimated before synthesis: one per adder bit and the multiplexers' LUTs.
    pub luts: u64,
}

fn write(path: PathBuf, text: &str) -> Result<(), Error> {
    std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
}

/// Writes `rtl/<module>.v` for every module, `report.json`, `constraints.xdc` and `quantized.json` (the
/// model the simulator checks the RTL against) into `dir`.
pub fn write_project(model: &QuantizedModel, options: &Options, dir: &Path) -> Result<Report, Error> {
    let design = generate(model, options)?;
    let rtl = dir.join("rtl");
    std::fs::create_dir_all(&rtl).map_err(|source| Error::Io { path: rtl.clone(), source })?;
    for (name, text) in &design.modules {
        write(rtl.join(format!("{name}.v")), text)?;
    }
    let report = report(model, options, &design);
    write(dir.join("report.json"), &serde_json::to_string_pretty(&report).expect("serializable"))?;
    write(dir.join("quantized.json"), &serde_json::to_string(model).expect("serializable"))?;
    write(
        dir.join("constraints.xdc"),
        &format!(
            "# The core's clock; the AXI4-Stream wrapper's is aclk.\ncreate_clock -name clk -period {:.3} [get_ports -quiet clk]\ncreate_clock -name aclk -period {:.3} [get_ports -quiet aclk]\n",
            options.clock_ns, options.clock_ns
        ),
    )?;
    let vivado = dir.join("vivado");
    std::fs::create_dir_all(&vivado).map_err(|source| Error::Io { path: vivado.clone(), source })?;
    write(vivado.join("package_ip.tcl"), &package_ip(&options.top))?;
    write(dir.join("README.md"), &readme(model, &report))?;
    Ok(report)
}

/// The report of a generated design: what `write_project` writes to `report.json`.
pub fn report(model: &QuantizedModel, options: &Options, design: &Design) -> Report {
    Report {
        top: options.top.clone(),
        target: "verilog",
        input: Port { count: model.input().len(), ty: model.input().ty.to_string() },
        output: Port { count: model.output().len(), ty: model.output().ty.to_string() },
        latency_cycles: design.latency,
        ii: design.ii,
        io: options.io,
        handshake: match (options.io, design.ii) {
            (Io::Stream, _) => STREAM,
            (Io::Parallel, 1) => EVERY_CLOCK,
            (Io::Parallel, _) => IN_READY,
        },
        clock_ns: options.clock_ns,
        multipliers: options.multipliers,
        dsp_cost: options.dsp.lut_cost,
        dsp_budget: options.dsp.budget,
        layers: design.layers.clone(),
        resources: resources(design.cost, design.register_bits),
        stream: design.stream.clone(),
    }
}

fn package_ip(top: &str) -> String {
    format!(
        r#"# Packages the AXI4-Stream wrapper {top}_axis as a Vivado IP.
# Usage: vivado -mode batch -source vivado/package_ip.tcl [-tclargs PART]
# Written to the standard Vivado IP packager flow; it is not exercised where balerc is
# built and tested (no Vivado there).
set here [file dirname [file normalize [info script]]]
set build [file dirname $here]
set part [expr {{[llength $argv] > 0 ? [lindex $argv 0] : "xcvu9p-flga2104-2L-e"}}]
create_project -in_memory -part $part
add_files [glob $build/rtl/*.v]
add_files -fileset constrs_1 $build/constraints.xdc
set_property top {top}_axis [current_fileset]
update_compile_order -fileset sources_1
ipx::package_project -root_dir $build/ip -vendor balerc.org -library balerc -taxonomy /UserIP -import_files
set core [ipx::current_core]
set_property name {top} $core
set_property display_name {{balerc {top}}} $core
set_property description {{Autoencoder layer pipeline generated by balerc}} $core
ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
ipx::associate_bus_interfaces -busif s_axis -clock aclk $core
ipx::associate_bus_interfaces -busif m_axis -clock aclk $core
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::save_core $core
puts "IP written to $build/ip"
"#
    )
}

fn readme(model: &QuantizedModel, report: &Report) -> String {
    match &report.stream {
        Some(stream) => stream_readme(model, report, stream),
        None => parallel_readme(model, report),
    }
}

fn stream_readme(model: &QuantizedModel, report: &Report, stream: &StreamReport) -> String {
    let top = &report.top;
    let beat = |b: &crate::BeatLayout| {
        let grid = if b.grid.is_empty() {
            "one beat per frame".to_string()
        } else {
            format!("grid {:?}, raster order", b.grid)
        };
        format!("{} beats of {} x `{}` ({grid})", b.beats, b.elements, b.ty)
    };
    format!(
        "# {top}: generated by balerc

From model `{model}`, streamed: a frame enters as {input} and leaves as {output}; element c of
beat p is element `c * beats + p` of the model's tensor. A frame every {per_frame} clocks when
input is offered every clock and output always taken; {latency} clocks from a frame's first
input beat to its last output beat; line buffers of {buffers} bits.

| file | what |
|---|---|
| `rtl/{top}.v` | the core: `clk`, `rst` (synchronous, active high), `in_valid`, `in_ready`, `in_data[{in_msb}:0]`, `out_valid`, `out_ready`, `out_data[{out_msb}:0]`; a beat moves when valid and ready are both high, and either side may wait |
| `rtl/{top}_axis.v` | the same ports as AXI4-Stream (`aclk`, `aresetn`, `s_axis_*`, `m_axis_*`), TLAST on each frame's last output beat |
| `rtl/{top}_cast*.v` | the `ap_fixed` conversions the core instantiates |
| `constraints.xdc` | the clock constraint ({clock} ns) |
| `vivado/package_ip.tcl` | `vivado -mode batch -source vivado/package_ip.tcl` packages the wrapper as an IP (standard flow, not run where balerc is tested) |
| `report.json` | ports, beat layouts, cycles per frame, buffers, adders, register bits |
| `quantized.json` | the quantized model, for `balerc cosim` |

Check the RTL against balerc's bit-exact simulator, under random back-pressure at both ends,
with `balerc cosim <this directory>`.
",
        model = model.name,
        input = beat(&stream.input_beat),
        output = beat(&stream.output_beat),
        per_frame = stream.cycles_per_frame,
        latency = report.latency_cycles,
        buffers = stream.buffer_bits,
        in_msb = stream.input_beat.elements as u64 * model.input().ty.width as u64 - 1,
        out_msb = stream.output_beat.elements as u64 * model.output().ty.width as u64 - 1,
        clock = report.clock_ns,
    )
}

fn parallel_readme(model: &QuantizedModel, report: &Report) -> String {
    let top = &report.top;
    format!(
        "# {top}: generated by balerc

From model `{model}`. Input: {n_in} elements of `{ti}`; output: {n_out} elements of `{to}`.
Latency {latency} clock cycles, {rate}, constant
multiplications as {mult}.

| file | what |
|---|---|
| `rtl/{top}.v` | the core: `clk`, `rst` (synchronous, active high), `in_valid`, `in_data[{in_msb}:0]`,{ready} `out_valid`, `out_data[{out_msb}:0]`; element i at bits `[i*W+W-1 : i*W]` as its two's-complement code |
| `rtl/{top}_axis.v` | AXI4-Stream wrapper (`aclk`, `aresetn`, `s_axis_*`, `m_axis_*` with TLAST), back-pressure through a result FIFO |
| `rtl/{top}_cast*.v` | the `ap_fixed` conversions the core instantiates |
| `constraints.xdc` | the clock constraint ({clock} ns) |
| `vivado/package_ip.tcl` | `vivado -mode batch -source vivado/package_ip.tcl` packages the wrapper as an IP (standard flow, not run where balerc is tested) |
| `report.json` | ports, types, latency, adders, register bits |
| `quantized.json` | the quantized model, for `balerc cosim` |

Check the RTL against balerc's bit-exact simulator with `balerc cosim <this directory>`.
",
        model = model.name,
        n_in = report.input.count,
        ti = report.input.ty,
        n_out = report.output.count,
        to = report.output.ty,
        latency = report.latency_cycles,
        rate = if report.ii == 1 {
            "one new sample every clock (II=1)".to_string()
        } else {
            format!("one new sample every {} clocks (II={}; a sample enters when `in_valid` and `in_ready` are both high)", report.ii, report.ii)
        },
        ready = if report.ii > 1 { " `in_ready`," } else { "" },
        mult = match report.multipliers {
            Multipliers::ShiftAdd => "shift-add trees (no DSP slices)".to_string(),
            Multipliers::Dsp => "multipliers for DSP slices".to_string(),
            Multipliers::Auto => format!(
                "DSP slices for the {} products where one (counted as {} LUTs) is cheaper than shift-add terms, shift-add trees elsewhere",
                report.resources.dsp_products, report.dsp_cost
            ),
        },
        in_msb = report.input.count as u64 * model.input().ty.width as u64 - 1,
        out_msb = report.output.count as u64 * model.output().ty.width as u64 - 1,
        clock = report.clock_ns,
    )
}

fn resources(cost: Cost, register_bits: u64) -> Resources {
    Resources {
        adders: cost.adders,
        adder_bits: cost.adder_bits,
        register_bits,
        dsp_products: cost.dsp_products,
        mux_luts: cost.mux_luts,
        luts: cost.adder_bits + cost.mux_luts,
    }
}

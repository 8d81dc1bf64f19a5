//! `balerc report`: what each form of a model costs before synthesis (lowered in memory at
//! each reuse factor), or a build's report.json as a table, with yosys resources added on
//! request.

use anyhow::{Context, Result};
use balerc_compiler::quant::QuantizedModel;
use balerc_testbench::cosim::load_build;
use balerc_testbench::rtl::synthesize;
use balerc_verilog::{legal_reuse_factors, DspPolicy, Io, Multipliers, ReuseFactors};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// How the yosys counts are labelled in report.json.
const YOSYS_FLOW: &str = "synth_xilinx -family xcup -flatten";

/// A directory that `balerc lower --target ...` wrote.
pub fn is_build_dir(path: &Path) -> bool {
    path.join("report.json").is_file()
}

/// What `balerc report MODEL` lowers the model with, besides the reuse factor and the
/// multiplier style that each row varies.
pub struct Settings {
    /// The reuse factors to lower at; empty: `default_reuse_factors`.
    pub reuse_factors: Vec<u32>,
    pub multipliers: Vec<Multipliers>,
    /// Layers whose factor the precision file sets: they keep it in every row.
    pub layer_reuse: BTreeMap<String, u32>,
    pub dsp: DspPolicy,
    pub clock_ns: f64,
    pub sharing_pairs: usize,
    pub adder_levels_per_stage: u32,
}

/// One form of the design and what it costs.
#[derive(Debug, Serialize)]
pub struct Form {
    /// parallel, or stream (pixels one per beat; II is then the clocks per frame).
    pub io: Io,
    pub multipliers: Multipliers,
    /// The model-wide reuse factor (layers the precision file sets keep theirs).
    pub reuse_factor: u32,
    pub ii: usize,
    pub latency_cycles: usize,
    pub lut: u64,
    pub ff: u64,
    pub dsp: u64,
    /// Block RAM in 18 Kb halves.
    pub bram18: u64,
    /// "estimate" (balerc's counts) or "yosys" (synthesized).
    pub source: &'static str,
    /// Seconds the Verilog backend took for this form; absent for a build directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowering_seconds: Option<f64>,
}

/// The reuse factors worth a row: all of them when there are at most 16, else 1, the powers
/// of two and the largest.
pub fn default_reuse_factors(legal: &[u32]) -> Vec<u32> {
    let most = legal.last().copied().unwrap_or(1);
    if legal.len() <= 16 {
        return legal.to_vec();
    }
    let mut picked: Vec<u32> =
        std::iter::successors(Some(1u32), |r| r.checked_mul(2)).take_while(|&r| r < most).collect();
    picked.push(most);
    picked
}

/// Lowers `model` to Verilog in memory for every reuse factor and multiplier style asked,
/// and prints what each form costs.
pub fn forms(model: &QuantizedModel, settings: &Settings, json_output: bool) -> Result<()> {
    let legal = legal_reuse_factors(model);
    let reuse_factors =
        if settings.reuse_factors.is_empty() { default_reuse_factors(&legal) } else { settings.reuse_factors.clone() };
    let mut rows = Vec::new();
    let mut no_stream = None;
    for &multipliers in &settings.multipliers {
        let forms = reuse_factors.iter().map(|&reuse| (Io::Parallel, reuse)).chain([(Io::Stream, 1)]);
        for (io, reuse) in forms {
            let options = balerc_verilog::Options {
                top: "balerc_top".into(),
                multipliers,
                // A budget belongs to auto; the other styles ignore it here rather than fail.
                dsp: DspPolicy {
                    budget: if multipliers == Multipliers::Auto { settings.dsp.budget } else { None },
                    ..settings.dsp
                },
                clock_ns: settings.clock_ns,
                sharing_pairs: settings.sharing_pairs,
                reuse: match io {
                    Io::Parallel => ReuseFactors { default: reuse, layers: settings.layer_reuse.clone() },
                    Io::Stream => ReuseFactors::default(),
                },
                io,
                adder_levels_per_stage: Some(settings.adder_levels_per_stage),
            };
            let started = Instant::now();
            let what = match io {
                Io::Parallel => format!("writing the design at reuse factor {reuse}"),
                Io::Stream => "writing the streamed design".to_string(),
            };
            let spinner = crate::spinner::Spinner::on_terminal(what);
            let design = match (balerc_verilog::generate(model, &options), io) {
                (Ok(design), _) => design,
                // A model that cannot stream still has its parallel forms.
                (Err(e @ balerc_verilog::Error::Unsupported(_)), Io::Stream) => {
                    no_stream = Some(e.to_string());
                    continue;
                }
                (Err(e), _) => return Err(e.into()),
            };
            drop(spinner);
            let seconds = started.elapsed().as_secs_f64();
            let report = balerc_verilog::report(model, &options, &design);
            rows.push(Form {
                io,
                multipliers,
                reuse_factor: reuse,
                ii: report.ii,
                latency_cycles: report.latency_cycles,
                lut: report.resources.luts,
                ff: report.resources.register_bits,
                dsp: report.resources.dsp_products,
                bram18: 0,
                source: "estimate",
                lowering_seconds: Some(seconds),
            });
        }
    }
    if json_output {
        let value = json!({
            "model": model.name,
            "input": {"count": model.input().len(), "type": model.input().ty.to_string()},
            "output": {"count": model.output().len(), "type": model.output().ty.to_string()},
            "clock_ns": settings.clock_ns,
            "dsp_cost": settings.dsp.lut_cost,
            "legal_reuse_factors": legal,
            "forms": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "{}: {} x {} -> {} x {}, clock {} ns; legal reuse factors 1 to {}",
        model.name,
        model.input().len(),
        model.input().ty,
        model.output().len(),
        model.output().ty,
        settings.clock_ns,
        legal.last().copied().unwrap_or(1)
    );
    print_table(&rows);
    println!(
        "estimates before synthesis: LUT = adder bits + multiplexer LUTs, FF = register bits, DSP = products on DSP slices, no BRAM; \
         a streamed form's II is its clocks per frame and its latency runs from a frame's first input beat to its last output beat; \
         `balerc lower ... [--reuse-factor R | --io stream] --out DIR && balerc report DIR --synthesize` measures one form"
    );
    if let Some(why) = no_stream {
        println!("no streamed form: {why}");
    }
    Ok(())
}

fn print_table(rows: &[Form]) {
    let timed = rows.iter().any(|r| r.lowering_seconds.is_some());
    print!(
        "{:<8} {:<11} {:>4} {:>6} {:>8} {:>10} {:>9} {:>6} {:>9}  ",
        "io", "multipliers", "R", "II", "latency", "LUT", "FF", "DSP", "BRAM_18K"
    );
    println!("{}", if timed { "source    lowered" } else { "source" });
    for r in rows {
        let name = |v: Result<Value, _>| v.ok().and_then(|v: Value| v.as_str().map(str::to_string)).unwrap_or_default();
        print!(
            "{:<8} {:<11} {:>4} {:>6} {:>8} {:>10} {:>9} {:>6} {:>9}  {}",
            name(serde_json::to_value(r.io)),
            name(serde_json::to_value(r.multipliers)),
            r.reuse_factor,
            r.ii,
            r.latency_cycles,
            grouped(r.lut),
            grouped(r.ff),
            grouped(r.dsp),
            r.bram18,
            r.source
        );
        match r.lowering_seconds {
            Some(s) => println!("{}  {s:.2} s", " ".repeat(8 - r.source.len())),
            None => println!(),
        }
    }
}

/// 12345 as "12,345".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The form a build directory holds: yosys's counts when it was synthesized, else balerc's
/// estimate. None for a build without the fields (an HLS project).
fn built_form(report: &Value) -> Option<Form> {
    let resources = &report["resources"];
    let multipliers = serde_json::from_value::<String>(report["multipliers"].clone()).ok()?.parse().ok()?;
    let ii = report["ii"].as_u64()? as usize;
    let latency_cycles = report["latency_cycles"].as_u64()? as usize;
    let io = if report["io"] == "stream" { Io::Stream } else { Io::Parallel };
    // A folded build's II is its reuse factor; a stream's II counts clocks per frame.
    let reuse_factor = if io == Io::Stream { 1 } else { ii as u32 };
    let yosys = &resources["yosys"];
    if yosys.is_object() {
        return Some(Form {
            io,
            multipliers,
            reuse_factor,
            ii,
            latency_cycles,
            lut: yosys["lut"].as_u64()?,
            ff: yosys["ff"].as_u64()?,
            dsp: yosys["dsp"].as_u64()?,
            bram18: yosys["bram18"].as_u64().unwrap_or(0),
            source: "yosys",
            lowering_seconds: None,
        });
    }
    let adder_bits = resources["adder_bits"].as_u64()?;
    Some(Form {
        io,
        multipliers,
        reuse_factor,
        ii,
        latency_cycles,
        // Builds written before the multiplexer estimate count adder bits only.
        lut: resources["luts"].as_u64().unwrap_or(adder_bits),
        ff: resources["register_bits"].as_u64()?,
        dsp: resources["dsp_products"].as_u64()?,
        bram18: 0,
        source: "estimate",
        lowering_seconds: None,
    })
}

pub fn show(dir: &Path, with_synthesis: bool, json_output: bool) -> Result<()> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut report: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    if with_synthesis {
        let (design, _) = load_build(dir).map_err(anyhow::Error::msg)?;
        let work = dir.join("synth");
        std::fs::create_dir_all(&work)?;
        let spinner = crate::spinner::Spinner::on_terminal(format!("synthesizing {} with yosys", dir.display()));
        let r = synthesize(&design, &work).map_err(anyhow::Error::msg)?;
        drop(spinner);
        report["resources"]["yosys"] = json!({
            "flow": YOSYS_FLOW,
            "lut": r.lut, "ff": r.ff, "carry": r.carry, "dsp": r.dsp, "bram18": r.bram18,
        });
        let updated = serde_json::to_string_pretty(&report)?;
        let temporary = dir.join("report.json.tmp");
        std::fs::write(&temporary, updated)?;
        std::fs::rename(&temporary, &path)?;
    }
    let form = if report["target"] == "hls" { None } else { built_form(&report) };
    if json_output {
        let value = json!({"dir": dir, "forms": form.map(|f| vec![f]).unwrap_or_default(), "report": report});
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let field = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("{:<16} {}", "top", field(&report["top"]));
    for port in ["input", "output"] {
        println!("{:<16} {} x {}", port, field(&report[port]["count"]), field(&report[port]["type"]));
    }
    // HLS schedules its own design: balerc's number is an estimate, csynth has the real one.
    let latency_note =
        if report["target"] == "hls" { " (estimate; the HLS csynth report is authoritative)" } else { "" };
    println!("{:<16} {}{latency_note}", "latency_cycles", field(&report["latency_cycles"]));
    for key in ["ii", "clock_ns", "multipliers"] {
        println!("{:<16} {}", key, field(&report[key]));
    }
    if let Value::Object(stream) = &report["stream"] {
        for port in ["input_beat", "output_beat"] {
            let beat = &stream[port];
            println!(
                "{:<16} {} beats of {} x {} (grid {})",
                port,
                field(&beat["beats"]),
                field(&beat["elements"]),
                field(&beat["type"]),
                field(&beat["grid"])
            );
        }
        for key in ["cycles_per_frame", "buffer_bits"] {
            println!("{:<16} {}", key, field(&stream[key]));
        }
    }
    if let Value::Object(resources) = &report["resources"] {
        for (key, value) in resources {
            match value {
                Value::Object(inner) => {
                    for (k, v) in inner {
                        println!("{:<16} {}", format!("{key}.{k}"), field(v));
                    }
                }
                v => println!("{:<16} {}", key, field(v)),
            }
        }
    }
    if let Some(form) = form {
        println!();
        print_table(&[form]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lists_are_kept_and_long_ones_thinned_to_powers_of_two_and_the_largest() {
        let upto = |n: u32| (1..=n).collect::<Vec<_>>();
        assert_eq!(default_reuse_factors(&upto(10)), upto(10));
        assert_eq!(default_reuse_factors(&upto(16)), upto(16));
        assert_eq!(default_reuse_factors(&upto(24)), vec![1, 2, 4, 8, 16, 24]);
        assert_eq!(default_reuse_factors(&upto(32)), vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(default_reuse_factors(&[1]), vec![1]);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(19057), "19,057");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}

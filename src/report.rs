//! `balerc report DIR`: the build's report.json as a table, with yosys resources added on
//! request.

use anyhow::{Context, Result};
use balerc_testbench::cosim::load_build;
use balerc_testbench::rtl::synthesize;
use serde_json::{json, Value};
use std::path::Path;

pub fn show(dir: &Path, with_synthesis: bool) -> Result<()> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut report: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    if with_synthesis {
        let (design, _) = load_build(dir).map_err(anyhow::Error::msg)?;
        let work = dir.join("synth");
        std::fs::create_dir_all(&work)?;
        let r = synthesize(&design, &work).map_err(anyhow::Error::msg)?;
        report["resources"]["yosys"] = json!({
            "flow": "synth_xilinx -family xcup -flatten",
            "lut": r.lut, "ff": r.ff, "carry": r.carry, "dsp": r.dsp,
        });
        let updated = serde_json::to_string_pretty(&report)?;
        let temporary = dir.join("report.json.tmp");
        std::fs::write(&temporary, updated)?;
        std::fs::rename(&temporary, &path)?;
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
    Ok(())
}

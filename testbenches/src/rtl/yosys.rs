//! yosys: `synth_xilinx -family xcup -flatten` and the cell counts of its `stat`.

use super::{run_tool, RtlDesign};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Resource estimate from yosys's `stat` after `synth_xilinx -family xcup -flatten`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// LUT1..LUT6 (and LUT6_2) cells. Shift registers (SRL16E, SRLC32E) and LUT RAMs
    /// (RAM32M, RAM64X1D...) are in `cells` only.
    pub lut: u64,
    /// Flip-flops: FDRE, FDSE, FDCE, FDPE (and their _1 variants).
    pub ff: u64,
    /// Carry chains: CARRY4 / CARRY8.
    pub carry: u64,
    /// DSP48E1 / DSP48E2 (any `DSP*` cell).
    pub dsp: u64,
    /// Block RAM in 18 Kb halves: RAMB18* cells count one, RAMB36* two.
    pub bram18: u64,
    /// Every cell type yosys reports, with its count, including I/O buffers
    /// (IBUF/OBUF/BUFG, one per port bit: synth_xilinx inserts them) and MUXF7/MUXF8.
    pub cells: BTreeMap<String, u64>,
}

impl Resources {
    /// Parses the text of yosys's `stat` (the design hierarchy totals when there are
    /// several modules, else the single module's cell list).
    pub fn from_stat(stat: &str) -> Result<Self, String> {
        let section = stat.rsplit_once("=== design hierarchy ===").map_or(stat, |(_, rest)| rest);
        let (_, after) = section
            .rsplit_once("Number of cells:")
            .ok_or_else(|| format!("no \"Number of cells:\" in yosys stat output:\n{stat}"))?;
        let mut lines = after.lines();
        let total: u64 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("cannot read the cell count in:\n{stat}"))?;
        let mut cells = BTreeMap::new();
        for line in lines {
            let mut fields = line.split_ascii_whitespace();
            let (Some(name), Some(count), None) = (fields.next(), fields.next(), fields.next()) else { break };
            let Ok(count) = count.parse::<u64>() else { break };
            *cells.entry(name.to_owned()).or_insert(0) += count;
        }
        let listed: u64 = cells.values().sum();
        if listed != total {
            return Err(format!("yosys stat lists {listed} cells but counts {total}:\n{stat}"));
        }
        let sum = |f: fn(&str) -> bool| cells.iter().filter(|(n, _)| f(n)).map(|(_, c)| c).sum();
        Ok(Self {
            lut: sum(|n| n.strip_prefix("LUT").is_some_and(|r| r.starts_with(|c: char| ('1'..='6').contains(&c)))),
            ff: sum(|n| {
                ["FDRE", "FDSE", "FDCE", "FDPE"]
                    .iter()
                    .any(|p| n.strip_prefix(p).is_some_and(|r| r.is_empty() || r == "_1"))
            }),
            carry: sum(|n| n == "CARRY4" || n == "CARRY8"),
            dsp: sum(|n| n.starts_with("DSP")),
            bram18: sum(|n| n.starts_with("RAMB18")) + 2 * sum(|n| n.starts_with("RAMB36")),
            cells,
        })
    }
}

/// Resource estimate with `yosys -p "synth_xilinx -family xcup -flatten -top <top>"`,
/// parsed from its `stat` output. The script, the full log (`yosys.log`) and the `stat`
/// text (`stat.txt`) stay in `work_dir` (created if needed).
pub fn synthesize(design: &RtlDesign, work_dir: &Path) -> Result<Resources, String> {
    design.validate()?;
    fs::create_dir_all(work_dir).map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
    let work_dir = work_dir.canonicalize().map_err(|e| format!("cannot resolve {}: {e}", work_dir.display()))?;
    let stat = work_dir.join("stat.txt");
    let log = work_dir.join("yosys.log");
    let mut script = String::new();
    for s in &design.sources {
        let path = std::path::absolute(s).unwrap_or_else(|_| s.clone());
        let path = path.to_str().ok_or_else(|| format!("source path {} is not UTF-8", s.display()))?;
        if path.contains('"') {
            return Err(format!("source path {path} contains a quote, which a yosys script cannot hold"));
        }
        script.push_str(&format!("read_verilog \"{path}\"\n"));
    }
    script.push_str(&format!("synth_xilinx -family xcup -flatten -top {}\n", design.top));
    script.push_str("tee -q -o stat.txt stat\n");
    let script_path = work_dir.join("synth.ys");
    fs::write(&script_path, script).map_err(|e| format!("cannot write {}: {e}", script_path.display()))?;
    let _ = fs::remove_file(&stat);
    run_tool(
        &format!("yosys on {} (log in {})", design.top, log.display()),
        Command::new("yosys").arg("-q").arg("-l").arg(&log).arg("-s").arg(&script_path).current_dir(&work_dir),
    )?;
    let text = fs::read_to_string(&stat).map_err(|e| format!("cannot read {}: {e}", stat.display()))?;
    Resources::from_stat(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat() {
        let stat = "\n3. Printing statistics.\n\n=== t ===\n\n   Number of wires:                 24\n\
                    \x20  Number of cells:                 76\n     BUFG                            1\n\
                    \x20    CARRY4                          4\n     DSP48E2                         1\n\
                    \x20    FDRE                           24\n     FDSE                            1\n\
                    \x20    IBUF                           18\n     LUT2                            8\n\
                    \x20    OBUF                           16\n     RAMB18E2                        1\n\
                    \x20    RAMB36E2                        2\n\n";
        let r = Resources::from_stat(stat).unwrap();
        assert_eq!((r.lut, r.ff, r.carry, r.dsp, r.bram18), (8, 25, 4, 1, 5));
        assert_eq!(r.cells["IBUF"], 18);
        assert!(Resources::from_stat("nothing").is_err());
    }
}

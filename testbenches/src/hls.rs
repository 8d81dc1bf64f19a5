//! C simulation of an HLS build directory (as written by `balerc_hls::write_project`):
//! g++ compiles the firmware with the generated test bench against the ap_types headers,
//! the program runs in the build directory on `tb_data/`, and its report is parsed.

use crate::cosim::Mismatch;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Debug)]
pub struct CsimOutcome {
    /// Vectors the test bench ran.
    pub vectors: usize,
    /// The first mismatches the test bench printed (at most 10).
    pub mismatches: Vec<Mismatch>,
    /// All mismatching output codes.
    pub mismatch_count: usize,
    pub compile_seconds: f64,
    pub run_seconds: f64,
}

/// A compiled C-simulation program of one build directory.
pub struct CsimProgram {
    pub dir: PathBuf,
    pub executable: PathBuf,
    pub compile_seconds: f64,
}

fn top_of(dir: &Path) -> Result<String, String> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    report["top"].as_str().map(str::to_owned).ok_or_else(|| format!("{}: no \"top\" string", path.display()))
}

/// Compiles `firmware/*.cpp` and `<top>_test.cpp` of `dir` with
/// `g++ -std=c++14 -O1 -I include -I firmware` into `dir/csim/<top>_csim`.
pub fn compile(dir: &Path, include: &Path) -> Result<CsimProgram, String> {
    let top = top_of(dir)?;
    let firmware = dir.join("firmware");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&firmware)
        .map_err(|e| format!("cannot list {}: {e}", firmware.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cpp"))
        .collect();
    sources.sort();
    let bench = dir.join(format!("{top}_test.cpp"));
    if !bench.is_file() {
        return Err(format!("{} is missing", bench.display()));
    }
    sources.push(bench);
    let out_dir = dir.join("csim");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let executable = out_dir.join(format!("{top}_csim"));
    let start = Instant::now();
    let out = Command::new("g++")
        .args(["-std=c++14", "-O1", "-w", "-DNDEBUG", "-I"])
        .arg(include)
        .arg("-I")
        .arg(&firmware)
        .args(&sources)
        .arg("-o")
        .arg(&executable)
        .output()
        .map_err(|e| format!("cannot run g++: {e}"))?;
    if !out.status.success() {
        return Err(format!("g++ failed on {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr)));
    }
    // The bench runs inside the build directory, so a relative path would no longer lead to it.
    let executable = std::fs::canonicalize(&executable).map_err(|e| format!("{}: {e}", executable.display()))?;
    Ok(CsimProgram { dir: dir.to_path_buf(), executable, compile_seconds: start.elapsed().as_secs_f64() })
}

impl CsimProgram {
    /// Runs the test bench in the build directory on its current `tb_data/`. A mismatch is
    /// an outcome, not an error; an error is a test bench that cannot run or read its data.
    pub fn run(&self) -> Result<CsimOutcome, String> {
        let start = Instant::now();
        let out = Command::new(&self.executable)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.executable.display()))?;
        let run_seconds = start.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut outcome = CsimOutcome {
            vectors: 0,
            mismatches: Vec::new(),
            mismatch_count: 0,
            compile_seconds: self.compile_seconds,
            run_seconds,
        };
        let mut summary = false;
        for line in stdout.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["mismatch:", "vector", v, "element", e, "got", g, "expected", x] => {
                    let parse = |s: &str| s.parse::<i64>().map_err(|_| format!("unreadable test bench line: {line}"));
                    outcome.mismatches.push(Mismatch {
                        vector: parse(v)? as usize,
                        element: parse(e)? as usize,
                        hardware: parse(g)?,
                        simulator: parse(x)?,
                    });
                }
                ["PASS:", n, ..] => {
                    outcome.vectors = n.parse().map_err(|_| format!("unreadable test bench line: {line}"))?;
                    summary = true;
                }
                ["FAIL:", m, "mismatches", "in", n, ..] => {
                    outcome.mismatch_count = m.parse().map_err(|_| format!("unreadable test bench line: {line}"))?;
                    outcome.vectors = n.parse().map_err(|_| format!("unreadable test bench line: {line}"))?;
                    summary = true;
                }
                _ => {}
            }
        }
        let expected_code = if outcome.mismatch_count > 0 { 1 } else { 0 };
        if !summary || out.status.code() != Some(expected_code) {
            return Err(format!(
                "the C simulation of {} failed ({}): {}{}",
                self.dir.display(),
                out.status,
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(outcome)
    }
}

/// Compiles and runs the C simulation of a build directory once.
pub fn csim(dir: &Path, include: &Path) -> Result<CsimOutcome, String> {
    compile(dir, include)?.run()
}

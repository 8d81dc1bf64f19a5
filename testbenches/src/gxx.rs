//! Compiles C++ against the ap_types headers once and runs the program on batched input.

use crate::Unavailable;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A compiled program.
pub struct Program {
    pub executable: PathBuf,
}

/// Whether g++ can run here.
pub fn available() -> Result<(), Unavailable> {
    match Command::new("g++").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(Unavailable("g++ is not installed".into())),
    }
}

/// Writes `source` to `dir/name.cpp` and compiles it with the given include directory.
/// `-DNDEBUG` because ap_private asserts on some legal conversions that the headers
/// otherwise compute.
pub fn compile(dir: &Path, name: &str, source: &str, include: &Path) -> Result<Program, String> {
    let cpp = dir.join(format!("{name}.cpp"));
    let executable = dir.join(name);
    fs::write(&cpp, source).map_err(|e| format!("cannot write {}: {e}", cpp.display()))?;
    let out = Command::new("g++")
        .args(["-std=c++14", "-O0", "-w", "-DNDEBUG", "-I"])
        .arg(include)
        .arg(&cpp)
        .arg("-o")
        .arg(&executable)
        .output()
        .map_err(|e| format!("cannot run g++: {e}"))?;
    if !out.status.success() {
        return Err(format!("g++ failed on {}:\n{}", cpp.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(Program { executable })
}

impl Program {
    /// Runs the program with `input` on stdin and returns its stdout lines.
    pub fn run(&self, input: &Path) -> Result<Vec<String>, String> {
        let stdin = fs::File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?;
        let out = Command::new(&self.executable)
            .stdin(Stdio::from(stdin))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.executable.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                self.executable.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
    }
}

//! Drives the external tools that check balerc's outputs bit for bit. Tools may be
//! missing on a developer's machine: callers get an `Unavailable` reason to skip with,
//! except under CI, where `require` turns it into a failure.

pub mod ap_types;
pub mod cosim;
pub mod gxx;
pub mod hls;
pub mod rtl;
pub mod vectors;

/// Why a tool-driven check cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Returns the tool, or explains the skip; under CI (the `CI` variable set) a missing
/// tool is a failure, since CI installs everything.
pub fn require<T>(tool: Result<T, Unavailable>) -> Option<T> {
    match tool {
        Ok(t) => Some(t),
        Err(why) if std::env::var_os("CI").is_some() => panic!("CI must have every tool, but: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

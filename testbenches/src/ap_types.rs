//! Finds the Xilinx ap_types headers (Apache-2.0), which ship in the hls4ml wheel.

use crate::Unavailable;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `ap_fixed.h`: `$AP_TYPES_INCLUDE`, else the installed hls4ml
/// package's copy.
pub fn include_dir() -> Result<PathBuf, Unavailable> {
    let dir = match std::env::var_os("AP_TYPES_INCLUDE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let out = Command::new("python3")
                .args(["-c", "import hls4ml,os;print(os.path.dirname(hls4ml.__file__))"])
                .output()
                .map_err(|e| Unavailable(format!("AP_TYPES_INCLUDE is unset and python3 cannot run ({e})")))?;
            if !out.status.success() {
                return Err(Unavailable("AP_TYPES_INCLUDE is unset and python3 cannot import hls4ml".into()));
            }
            Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("templates/vivado/ap_types")
        }
    };
    if dir.join("ap_fixed.h").is_file() {
        Ok(dir)
    } else {
        Err(Unavailable(format!("no ap_fixed.h in {} (set AP_TYPES_INCLUDE)", dir.display())))
    }
}

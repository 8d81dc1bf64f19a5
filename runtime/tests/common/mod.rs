//! What the integration tests share: the reference data sets beside the repository.

use std::path::{Path, PathBuf};

/// A file of ../shared/data, or None (with a note) where the data sets are not installed.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is not here", path.display());
        None
    }
}

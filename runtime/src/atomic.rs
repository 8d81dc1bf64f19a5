//! Outputs are written to a temporary file next to the target and renamed into place,
//! so a failure never leaves a half-written file behind.

use std::io::Write;
use std::path::Path;

pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    write(file.as_file_mut())?;
    file.as_file_mut().flush()?;
    make_readable(file.as_file())?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Temporary files are private (0600); a finished output is an ordinary file (0644).
#[cfg(unix)]
pub(crate) fn make_readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub(crate) fn make_readable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

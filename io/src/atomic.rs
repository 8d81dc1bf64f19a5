//! Outputs are written to a temporary file next to the target and renamed into place,
//! so a failure never leaves a half-written file behind.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn write_atomically(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut target = AtomicFile::create(path)?;
    write(target.file())?;
    target.commit()
}

/// A file that appears at its path, complete, only on [`AtomicFile::commit`]; dropped before
/// that, it leaves nothing behind.
pub struct AtomicFile {
    path: PathBuf,
    temporary: tempfile::NamedTempFile,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        Ok(AtomicFile { path: path.to_path_buf(), temporary: partial_file(path)? })
    }

    pub fn file(&mut self) -> &mut File {
        self.temporary.as_file_mut()
    }

    /// Where the temporary file is, for writers that open files by name (HDF5).
    pub fn temporary_path(&self) -> &Path {
        self.temporary.path()
    }

    /// A second handle on the temporary file, for writers that want to own theirs.
    pub fn handle(&self) -> std::io::Result<File> {
        self.temporary.as_file().try_clone()
    }

    pub fn commit(mut self) -> std::io::Result<()> {
        self.temporary.as_file_mut().flush()?;
        make_readable(self.temporary.as_file())?;
        self.temporary.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The file an output is written to until it is complete: next to it, named after it
/// (`out.baler.partial-XXXXXX`), so that one left behind by a crash or `kill -9` says what it is
/// and is never taken for the finished file.
pub fn partial_file(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    tempfile::Builder::new().prefix(&format!("{name}.partial-")).tempfile_in(dir)
}

/// Temporary files are private (0600); a finished output is an ordinary file (0644).
#[cfg(unix)]
pub fn make_readable(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub fn make_readable(_file: &File) -> std::io::Result<()> {
    Ok(())
}

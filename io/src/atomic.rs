//! Outputs are written to a temporary file next to the target and renamed into place,
//! so a failure never leaves a half-written file behind.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Every partial file and directory this process made, so that a stop from outside can
/// remove those still there (the finished ones were renamed away).
static PARTIALS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn partials() -> MutexGuard<'static, Vec<PathBuf>> {
    PARTIALS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes a partial file or directory and records its path, both under the lock, so that none
/// can appear unrecorded while [`exit_removing_partials`] runs.
fn recorded<T>(make: impl FnOnce() -> std::io::Result<T>, path: impl Fn(&T) -> &Path) -> std::io::Result<T> {
    let mut all = partials();
    let made = make()?;
    all.push(path(&made).to_path_buf());
    Ok(made)
}

/// Ends the process with `code` after removing every partial output still on disk: for a stop
/// asked for while work that does not look for stops is running.
pub fn exit_removing_partials(code: i32) -> ! {
    let all = partials();
    for path in all.iter() {
        let _ = match path.is_dir() {
            true => std::fs::remove_dir_all(path),
            false => std::fs::remove_file(path),
        };
    }
    // The lock stays held: nothing new is made while the process ends.
    std::process::exit(code)
}

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
    let prefix = partial_prefix(path);
    recorded(|| tempfile::Builder::new().prefix(&prefix).tempfile_in(parent_of(path)), |t| t.path())
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn partial_prefix(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    format!("{name}.partial-")
}

/// A directory of outputs (a build directory) that appears at its path, complete, only on
/// [`AtomicDir::commit`]: written as `DIR.partial-XXXXXX` next to it, and removed if dropped
/// before. It replaces an empty directory or an earlier build (one holding `marker`); any
/// other directory there is refused, since replacing it would lose what it holds.
pub struct AtomicDir {
    path: PathBuf,
    staging: tempfile::TempDir,
}

impl AtomicDir {
    pub fn create(path: &Path, marker: &str) -> std::io::Result<AtomicDir> {
        if path.exists() && !replaceable(path, marker) {
            return Err(std::io::Error::other(format!(
                "{} exists and is not a build directory (it has no {marker}); name a new or empty directory",
                path.display()
            )));
        }
        let prefix = partial_prefix(path);
        let staging = recorded(|| tempfile::Builder::new().prefix(&prefix).tempdir_in(parent_of(path)), |t| t.path())?;
        Ok(AtomicDir { path: path.to_path_buf(), staging })
    }

    /// Where the outputs are written until the commit.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Puts the directory in place, the earlier one (if any) moved aside first and removed last.
    pub fn commit(self) -> std::io::Result<()> {
        let staged = self.staging.keep();
        let placed = place(&staged, &self.path);
        if placed.is_err() {
            let _ = std::fs::remove_dir_all(&staged);
        }
        placed
    }
}

/// Moves the earlier directory aside, the staged one into place, and removes the earlier one.
fn place(staged: &Path, path: &Path) -> std::io::Result<()> {
    readable_dir(staged)?;
    let earlier = path.exists().then(|| {
        let mut aside = staged.as_os_str().to_owned();
        aside.push(".replaced");
        PathBuf::from(aside)
    });
    if let Some(earlier) = &earlier {
        std::fs::rename(path, earlier)?;
    }
    std::fs::rename(staged, path)?;
    if let Some(earlier) = earlier {
        std::fs::remove_dir_all(earlier)?;
    }
    Ok(())
}

fn replaceable(path: &Path, marker: &str) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none() || path.join(marker).is_file(),
        Err(_) => false,
    }
}

#[cfg(unix)]
fn readable_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn readable_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_directory_appears_whole_on_commit_and_replaces_an_earlier_build() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("build");
        let first = AtomicDir::create(&target, "report.json").unwrap();
        std::fs::write(first.path().join("report.json"), "1").unwrap();
        assert!(first.path().file_name().unwrap().to_string_lossy().starts_with("build.partial-"));
        assert!(!target.exists(), "nothing at the target before the commit");
        first.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("report.json")).unwrap(), "1");

        let second = AtomicDir::create(&target, "report.json").unwrap();
        std::fs::write(second.path().join("report.json"), "2").unwrap();
        second.commit().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("report.json")).unwrap(), "2");
        assert_eq!(names(root.path()), ["build"], "no partial or replaced directory left");
    }

    #[test]
    fn a_dropped_directory_leaves_nothing_and_a_foreign_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("build");
        drop(AtomicDir::create(&target, "report.json").unwrap());
        assert!(names(root.path()).is_empty());

        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let refused = AtomicDir::create(&target, "report.json").err().unwrap().to_string();
        assert!(refused.contains("build") && refused.contains("report.json"), "{refused}");
        assert_eq!(std::fs::read_to_string(target.join("notes.txt")).unwrap(), "mine");
    }
}

//! Every way reading or writing a `.baler` file can fail, each one sentence naming the file.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{}: could not {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: String,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a .baler file ({reason})", path.display())]
    NotBaler { path: PathBuf, reason: String },
    #[error("{}: format version {found} is newer than this balerc reads ({supported})", path.display())]
    NewerVersion { path: PathBuf, found: u16, supported: u16 },
    #[error("{} is truncated ({missing}): it was not completely written", path.display())]
    Truncated { path: PathBuf, missing: String },
    /// `part` reads like "the header" or "chunk 3, section 'latent'".
    #[error("{}: {part} is corrupted ({reason})", path.display())]
    Corrupted { path: PathBuf, part: String, reason: String },
    /// The caller asked for something the format cannot hold, such as two attachments of one name.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: there is no chunk {index}, the file has {count}", path.display())]
    NoSuchChunk { path: PathBuf, index: usize, count: usize },
}

impl ContainerError {
    pub(super) fn io(path: &Path, action: impl Into<String>, source: io::Error) -> ContainerError {
        ContainerError::Io { path: path.to_path_buf(), action: action.into(), source }
    }

    pub(super) fn not_baler(path: &Path, reason: impl Into<String>) -> ContainerError {
        ContainerError::NotBaler { path: path.to_path_buf(), reason: reason.into() }
    }

    pub(super) fn truncated(path: &Path, missing: impl Into<String>) -> ContainerError {
        ContainerError::Truncated { path: path.to_path_buf(), missing: missing.into() }
    }

    pub(super) fn corrupted(path: &Path, part: impl Into<String>, reason: impl Into<String>) -> ContainerError {
        ContainerError::Corrupted { path: path.to_path_buf(), part: part.into(), reason: reason.into() }
    }

    pub(super) fn invalid(path: &Path, message: impl Into<String>) -> ContainerError {
        ContainerError::Invalid { path: path.to_path_buf(), message: message.into() }
    }
}

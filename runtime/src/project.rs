//! A project directory: `balerc.toml` plus folders for data, models and outputs, as Baler's
//! `newProject` makes them.

use crate::config::{Config, ConfigError};
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "balerc.toml";

/// Creates the project folders and a documented `balerc.toml`; an existing configuration is kept.
pub fn create(dir: &Path) -> std::io::Result<PathBuf> {
    for folder in ["data", "models", "outputs"] {
        std::fs::create_dir_all(dir.join(folder))?;
    }
    let config = dir.join(CONFIG_FILE);
    if !config.exists() {
        crate::atomic::write_atomically(&config, |f| std::io::Write::write_all(f, Config::template().as_bytes()))?;
    }
    Ok(config)
}

/// A loaded configuration with the folder its relative paths start from.
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
}

impl Project {
    /// `path` is the project folder or its `balerc.toml`.
    pub fn open(path: &Path, overrides: &[String]) -> Result<Project, ConfigError> {
        let file = if path.is_dir() { path.join(CONFIG_FILE) } else { path.to_path_buf() };
        let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Project { config: Config::load(&file, overrides)?, root })
    }

    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }
}

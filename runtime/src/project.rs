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

    /// Training without a project: the default settings and the given data files. The model
    /// directory goes next to the first file (`jets.npz`: `jets.model`) unless `model` says
    /// where, and the training outputs (loss history, checkpoints) beside it
    /// (`jets.model.training`). `overrides` apply as to a project's configuration.
    pub fn for_data(inputs: &[PathBuf], model: Option<&Path>, overrides: &[String]) -> Result<Project, ConfigError> {
        let first = inputs.first().ok_or_else(|| ConfigError::Invalid {
            path: CONFIG_FILE.into(),
            message: "no data: give --input FILE".into(),
        })?;
        let first = std::path::absolute(first).unwrap_or_else(|_| first.clone());
        let root = first.parent().map(Path::to_path_buf).unwrap_or_default();
        let model = match model {
            Some(model) => std::path::absolute(model).unwrap_or_else(|_| model.to_path_buf()),
            None => root.join(first.file_stem().unwrap_or_default()).with_extension("model"),
        };
        let mut training = model.clone().into_os_string();
        training.push(".training");
        let quoted = |p: &Path| format!("'{}'", p.display());
        let inputs: Vec<String> =
            inputs.iter().map(|p| quoted(&std::path::absolute(p).unwrap_or_else(|_| p.clone()))).collect();
        let mut all = vec![
            format!("data.input=[{}]", inputs.join(", ")),
            format!("output.model={}", quoted(&model)),
            format!("output.training={}", quoted(Path::new(&training))),
        ];
        all.extend(overrides.iter().cloned());
        let config = Config::parse("", Path::new("(the defaults)"), &all)?;
        Ok(Project { config, root })
    }

    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }
}

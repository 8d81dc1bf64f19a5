//! `balerc new`, `balerc train` and `balerc export-onnx`: the project workflow's front end.

use anyhow::{Context, Result};
use balerc_runtime::device::DeviceList;
use balerc_runtime::model_dir::{self, OutlierRound};
use balerc_runtime::project::{self, Project};
use balerc_runtime::train::{EpochRecord, Observer};
use balerc_runtime::training_run;
use burn::prelude::Device;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    /// The project folder, or its balerc.toml. Without one, the current folder's balerc.toml,
    /// or, where there is none, no project at all: the default settings on the --input files,
    /// the model saved next to the first (jets.npz: jets.model) unless --out says where.
    project: Option<PathBuf>,
    /// Override any option of balerc.toml, e.g. --set training.epochs=20 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Training file(s), instead of data.input.
    #[arg(long)]
    input: Vec<PathBuf>,
    /// Train on these columns of the table (names or indices, separated by commas), instead
    /// of data.columns.
    #[arg(long, value_delimiter = ',', value_name = "A,B,...")]
    columns: Vec<String>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    latent: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Where to save the model directory, instead of output.model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Quantization-aware training for this precision: a type such as 'ap_fixed<16,6>' or a
    /// precision TOML file, instead of training.qat.
    #[arg(long, value_name = "PRECISION")]
    qat: Option<String>,
    /// cpu, or wgpu[:N] / cuda[:N] in a build with that feature; several separated by commas
    /// (cuda:0,cuda:1) split every batch across them.
    #[arg(long, default_value = "cpu")]
    device: DeviceList,
    /// Outlier removal: 'auto' trains again without the samples whose latent density lies far
    /// below the bulk (training.outlier_rounds, 2 unless set) and saves the density for
    /// compression; 'none' turns it off.
    #[arg(long, value_name = "auto|none")]
    outliers: Option<Outliers>,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Outliers {
    Auto,
    None,
}

impl TrainArgs {
    /// The shortcut flags are overrides like any other.
    fn overrides(&self) -> Vec<String> {
        let mut all = self.overrides.clone();
        let quoted = |p: &Path| format!("'{}'", p.display());
        if !self.input.is_empty() {
            let list: Vec<String> = self.input.iter().map(|p| quoted(&absolute(p))).collect();
            all.push(format!("data.input=[{}]", list.join(", ")));
        }
        if !self.columns.is_empty() {
            let list: Vec<String> = self.columns.iter().map(|c| format!("'{}'", c.replace('\'', ""))).collect();
            all.push(format!("data.columns=[{}]", list.join(", ")));
        }
        all.extend(self.epochs.map(|n| format!("training.epochs={n}")));
        all.extend(self.latent.map(|n| format!("model.latent={n}")));
        all.extend(self.seed.map(|n| format!("training.seed={n}")));
        all.extend(self.out.as_deref().map(|p| format!("output.model={}", quoted(&absolute(p)))));
        all.extend(self.qat.as_deref().map(|q| match Path::new(q).is_file() {
            true => format!("training.qat={}", quoted(&absolute(Path::new(q)))),
            false => format!("training.qat='{q}'"),
        }));
        all
    }
}

/// Paths given on the command line are relative to where the user is, not to the project.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

pub fn new_project(dir: &Path) -> Result<()> {
    let config = project::create(dir).with_context(|| format!("cannot create the project {}", dir.display()))?;
    println!(
        "created {}: put data in {}/data, set data.input in {}, then run balerc train {}",
        dir.display(),
        dir.display(),
        config.display(),
        dir.display()
    );
    Ok(())
}

/// The project the command names, the current folder's, or none: the data files alone.
fn open_project(args: &TrainArgs) -> Result<Project> {
    let in_here = Path::new(project::CONFIG_FILE);
    Ok(match &args.project {
        Some(path) => Project::open(path, &args.overrides())?,
        None if in_here.is_file() => Project::open(Path::new("."), &args.overrides())?,
        None if args.input.is_empty() => anyhow::bail!(
            "no {} here: train on a file with `balerc train --input FILE`, or on a project made by `balerc new DIR` with `balerc train DIR`",
            project::CONFIG_FILE
        ),
        None => {
            // --input and --out are in the overrides too; here they only place the model.
            let project = Project::for_data(&args.input, args.out.as_deref(), &args.overrides())?;
            eprintln!(
                "no {} here: training with the default settings, the model goes to {}",
                project::CONFIG_FILE,
                project.config.output.model.display()
            );
            project
        }
    })
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let mut project = open_project(args)?;
    let rounds = &mut project.config.training.outlier_rounds;
    training_run::choose_outlier_rounds(rounds, args.outliers.map(|o| o == Outliers::Auto));
    let mut progress = Progress::new(project.config.training.epochs, *rounds);
    let outcome = training_run::run(&project, &args.device.open().map_err(anyhow::Error::msg)?, &mut progress)
        .map_err(anyhow::Error::msg)?;
    progress.finish();
    let last = outcome.history.last();
    let best = outcome.history.iter().filter_map(|r| r.validation_loss).min_by(f64::total_cmp);
    println!(
        "trained {} on {} samples ({} held out) for {} epochs{} in {:.1} s ({:.2} s/epoch): train loss {:.3e}, best validation loss {}",
        describe(&outcome.spec),
        outcome.samples.0,
        outcome.samples.1,
        outcome.history.len(),
        if outcome.stopped_early { " (stopped early)" } else { "" },
        outcome.seconds,
        outcome.seconds / outcome.history.len().max(1) as f64,
        last.map_or(f64::NAN, |r| r.train_loss),
        best.map_or("-".into(), |v| format!("{v:.3e}")),
    );
    println!("saved {}", outcome.model_dir.display());
    if project.config.training.outlier_rounds > 0 {
        println!("saved {}, the latent density for compress --outliers", model_dir::OUTLIERS_FILE);
    }
    Ok(())
}

fn describe(spec: &balerc_runtime::model::ModelSpec) -> String {
    let widths: Vec<String> = spec.hidden.iter().map(usize::to_string).collect();
    format!("{:?} autoencoder {:?} -> [{}] -> {}", spec.kind, spec.sample_shape, widths.join(", "), spec.latent)
}

/// Writes the ONNX files of a model directory again, elsewhere if asked.
pub fn export_onnx(model: &Path, out: Option<&Path>) -> Result<()> {
    let saved = model_dir::load(model, &Device::flex())?;
    let out = out.unwrap_or(model);
    let written = model_dir::write_onnx(out, &saved)?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// A progress bar with the loss and learning rate on a terminal; one line per epoch elsewhere
/// would flood logs, so then only the summary is printed.
struct Progress {
    bar: Option<ProgressBar>,
    outlier_rounds: usize,
}

impl Progress {
    fn new(epochs: usize, outlier_rounds: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(epochs as u64);
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] epoch {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress { bar, outlier_rounds }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn epoch_finished(&mut self, r: &EpochRecord) {
        if let Some(bar) = &self.bar {
            let validation = r.validation_loss.map_or(String::new(), |v| format!(" val {v:.3e}"));
            bar.set_message(format!(
                "loss {:.3e}{validation} lr {:.1e} {:.2} s/epoch",
                r.train_loss, r.learning_rate, r.seconds
            ));
            bar.set_position(r.epoch as u64);
        }
    }

    fn outlier_round_finished(&mut self, round: usize, r: &OutlierRound) {
        let model = match round > self.outlier_rounds {
            true => "final model".to_string(),
            false => format!("outlier round {round}/{}", self.outlier_rounds),
        };
        let validation = r.validation_loss.map_or("-".into(), |v| format!("{v:.3e}"));
        let line = format!(
            "{model}: trained on {} samples, best validation loss {validation}; {} samples flagged \
             (latent log density below {:.3}){}",
            r.trained_on,
            r.flagged,
            r.threshold,
            if round > self.outlier_rounds { "" } else { ", training again without them" }
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

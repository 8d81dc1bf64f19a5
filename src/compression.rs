//! `balerc compress`, `decompress`, `info` and `evaluate`: the front end of the compression
//! workflow.

use anyhow::{bail, Result};
use balerc_compiler::quant::PrecisionConfig;
use balerc_runtime::compress::{
    self, CompressOptions, DecompressOptions, Embedding, EncoderChoice, ErrorBound, LatentBits, NetworkWork,
    OutlierChoice,
};
use clap::Args;
use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompressArgs {
    /// The model directory written by balerc train.
    #[arg(long)]
    model: PathBuf,
    /// The data (.npz, .npy, .csv, .parquet, or FILE.h5:OBJECT) with the layout the model was
    /// trained on.
    #[arg(long)]
    input: PathBuf,
    /// Compress only these columns of the input's table (names or indices, separated by
    /// commas), in this order: those the model was trained on.
    #[arg(long, value_delimiter = ',', value_name = "A,B,...")]
    columns: Vec<String>,
    /// The .baler file to write; by default the input's name with .baler, which is not
    /// written over unless --force.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Write over an existing file at the default output path.
    #[arg(long)]
    force: bool,
    /// Bits per stored latent value, or 'auto': with an error bound, try a few widths on the
    /// first samples and keep the smallest file. Default: auto with a bound, 16 without.
    #[arg(long, value_name = "BITS|auto", value_parser = parse_latent_bits)]
    latent_bits: Option<LatentBits>,
    /// Guarantee |reconstructed - original| <= this for every value, in the data's units.
    #[arg(long, conflicts_with = "max_rel_error")]
    max_abs_error: Option<f64>,
    /// Guarantee the error of every value stays within this fraction of its column's value
    /// range (max - min), as SZ3 counts it.
    #[arg(long)]
    max_rel_error: Option<f64>,
    /// Store the decoder in the file so that it decompresses without the model directory.
    /// By default it is stored when it adds at most 2 % to the file.
    #[arg(long, conflicts_with = "no_embed_model")]
    embed_model: bool,
    /// Never store the decoder: the file then decompresses only with --model.
    #[arg(long)]
    no_embed_model: bool,
    /// Produce the latent with the quantized encoder of this build directory (from balerc lower
    /// MODEL_DIR --part encoder), bit-exactly as the FPGA would; --latent-bits does not apply.
    #[arg(long, value_name = "BUILD_DIR", conflicts_with = "encoder_precision")]
    encoder_hardware: Option<PathBuf>,
    /// Produce the latent with the model's encoder quantized to this precision: a type such as
    /// 'ap_fixed<16,6>' or a precision TOML file, as balerc lower takes.
    #[arg(long, value_name = "PRECISION")]
    encoder_precision: Option<String>,
    /// Samples per chunk (the unit of memory and of parallel work); by default about 8 MB of values.
    #[arg(long)]
    chunk_samples: Option<usize>,
    /// With an error bound, a formula that predicts a table column from columns before it, such
    /// as 'px = pt * cos(phi)' (+ - * / ^, sin cos tan sinh cosh tanh exp log sqrt abs atan2
    /// hypot); repeat for more. Used where it makes the file smaller.
    #[arg(long, value_name = "COLUMN = FORMULA")]
    relation: Vec<String>,
    /// 'auto' stores the samples whose latent density is below the threshold saved by
    /// balerc train --outliers auto in full; 'none' codes every sample. Default: auto when the
    /// model directory holds outliers.json.
    #[arg(long, value_name = "auto|none", value_parser = parse_outliers)]
    outliers: Option<OutlierChoice>,
}

fn parse_outliers(text: &str) -> Result<OutlierChoice, String> {
    match text {
        "auto" => Ok(OutlierChoice::Auto),
        "none" => Ok(OutlierChoice::None),
        _ => Err(format!("'{text}' is neither 'auto' nor 'none'")),
    }
}

fn parse_latent_bits(text: &str) -> Result<LatentBits, String> {
    match text {
        "auto" => Ok(LatentBits::Auto),
        _ => {
            text.parse().map(LatentBits::Fixed).map_err(|_| format!("'{text}' is neither a number of bits nor 'auto'"))
        }
    }
}

fn encoder_choice(args: &CompressArgs) -> Result<EncoderChoice> {
    Ok(match (&args.encoder_hardware, &args.encoder_precision) {
        (Some(build), _) => EncoderChoice::HardwareBuild(build.clone()),
        (None, Some(precision)) => EncoderChoice::Precision(parse_precision(precision)?),
        (None, None) => EncoderChoice::Float,
    })
}

/// A type spelled as HLS spells it, or the path of a precision TOML file.
pub fn parse_precision(text: &str) -> Result<PrecisionConfig> {
    Ok(balerc_runtime::lowering::parse_precision(text)?)
}

pub fn compress(args: &CompressArgs) -> Result<()> {
    let bound = match (args.max_abs_error, args.max_rel_error) {
        (Some(e), _) => Some(ErrorBound::Absolute(e)),
        (_, Some(r)) => Some(ErrorBound::RelativeToRange(r)),
        _ => None,
    };
    let output = output_path(&args.output, &args.input, "baler", args.force)?;
    let options = CompressOptions {
        model: args.model.clone(),
        input: args.input.clone(),
        output: output.clone(),
        latent_bits: args.latent_bits.unwrap_or(match bound {
            Some(_) => LatentBits::Auto,
            None => LatentBits::Fixed(16),
        }),
        bound,
        embed_model: match (args.embed_model, args.no_embed_model) {
            (true, _) => Embedding::Always,
            (_, true) => Embedding::Never,
            _ => compress::EMBED_WHEN_UNDER,
        },
        encoder: encoder_choice(args)?,
        chunk_samples: args.chunk_samples,
        relations: args.relation.clone(),
        outliers: args.outliers.unwrap_or_default(),
        columns: args.columns.clone(),
    };
    let mut progress = SampleBar::on_terminal("compressed");
    let report = compress::compress_with_progress(&options, &mut progress);
    progress.finish();
    let report = report?;
    let megabytes = report.original_bytes as f64 / 1e6;
    println!(
        "compressed {} samples of {} into {}: {} -> {} bytes, ratio {:.2} ({:.2} counting the {}-byte decoder{}); {} outliers stored exactly; {:.2} s, {:.1} MB/s",
        report.samples,
        args.input.display(),
        output.display(),
        report.original_bytes,
        report.compressed_bytes,
        report.ratio(),
        report.original_bytes as f64
            / (report.compressed_bytes + if report.model_embedded { 0 } else { report.model_bytes }) as f64,
        report.model_bytes,
        if report.model_embedded { ", embedded" } else { "" },
        report.outliers,
        report.seconds,
        megabytes / report.seconds,
    );
    match (report.model_embedded, args.embed_model || args.no_embed_model) {
        (true, false) => println!("decoder embedded: it adds at most 2 % to the file (--no-embed-model leaves it out)"),
        (false, false) => println!(
            "decoder not embedded: it would add more than 2 % to the file; the file records {}, where decompress \
             looks for it (--model names another place; --embed-model puts it in the file)",
            args.model.display()
        ),
        _ => {}
    }
    if let Some(flagged) = report.outlier_samples {
        let share = 100.0 * flagged as f64 / report.samples.max(1) as f64;
        println!("{flagged} samples ({share:.3}%) flagged as outliers, stored in full");
    }
    println!("latent codes of {} bits{}", report.latent_bits, chosen_from(&report.latent_bits_trials));
    print_network(&report.network);
    Ok(())
}

/// Samples done, their rate and the time left, drawn on a terminal only (quiet in pipes and CI),
/// refreshed as each chunk is written.
struct SampleBar {
    bar: Option<ProgressBar>,
    verb: &'static str,
}

impl SampleBar {
    fn on_terminal(verb: &'static str) -> SampleBar {
        SampleBar { bar: None, verb }.shown_if(std::io::stderr().is_terminal())
    }

    fn shown_if(self, shown: bool) -> SampleBar {
        let bar = shown.then(|| {
            let template = format!(
                "{{elapsed_precise}} [{{bar:30}}] {{human_pos}}/{{human_len}} samples {}, {{rate}}, {{eta}} left",
                self.verb
            );
            let rate = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{}/s", HumanCount(state.per_sec() as u64));
            };
            let style = ProgressStyle::with_template(&template).expect("valid template").with_key("rate", rate);
            let bar = ProgressBar::new(0);
            bar.set_style(style.progress_chars("=> "));
            bar
        });
        SampleBar { bar, ..self }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl compress::Progress for SampleBar {
    fn samples_done(&mut self, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}

/// The networks' share of the work, as GFLOP/s per core beside the machine's peak.
fn print_network(network: &NetworkWork) {
    if network.flops > 0.0 {
        println!(
            "network {:.3} GFLOP in {:.3} s of a core: {:.1} GFLOP/s",
            network.flops * 1e-9,
            network.seconds,
            network.gflops_per_second()
        );
    }
}

/// The widths `--latent-bits auto` tried, as the summary shows them.
fn chosen_from(trials: &[(u32, u64)]) -> String {
    if trials.is_empty() {
        return String::new();
    }
    let mut tried = trials.to_vec();
    tried.sort();
    let sizes: Vec<String> = tried.iter().map(|(bits, bytes)| format!("{bits}: {bytes}")).collect();
    format!(" (auto, the smallest on the first samples; bytes per width {})", sizes.join(", "))
}

#[derive(Args)]
pub struct DecompressArgs {
    /// The .baler file.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the data (.npz, .npy or .csv; the original's form by default); by
    /// default the input's name in the original's form, which is not written over unless --force.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Write over an existing file at the default output path.
    #[arg(long)]
    force: bool,
    /// The model directory, unless the decoder is embedded in the file.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Decode with the decoder quantized to this precision (a type or a precision TOML), as a
    /// decoder on an FPGA would, instead of in floating point. Not for error-bounded files.
    #[arg(long, value_name = "PRECISION")]
    decoder_precision: Option<String>,
}

/// The output a user named, or the default next to the input with `extension`, which must not
/// exist yet unless `force`.
fn output_path(named: &Option<PathBuf>, input: &std::path::Path, extension: &str, force: bool) -> Result<PathBuf> {
    if let Some(path) = named {
        return Ok(path.clone());
    }
    // `data.h5:/events/jets` compresses into `data.baler`.
    let (file, _) = balerc_io::dataset::split_object(input);
    let path = file.with_extension(extension);
    if path == file || (path.exists() && !force) {
        bail!("{} exists; name the output with --output, or pass --force to write over it", path.display());
    }
    Ok(path)
}

pub fn decompress(args: &DecompressArgs) -> Result<()> {
    let format = compress::original_format(&args.input)?;
    let output = output_path(&args.output, &args.input, format.extension(), args.force)?;
    let options = DecompressOptions {
        input: args.input.clone(),
        output: output.clone(),
        model: args.model.clone(),
        decoder_precision: args.decoder_precision.as_deref().map(parse_precision).transpose()?,
    };
    let mut progress = SampleBar::on_terminal("decompressed");
    let report = compress::decompress_with_progress(&options, &mut progress);
    progress.finish();
    let report = report?;
    let megabytes = std::fs::metadata(&output).map_or(0.0, |m| m.len() as f64 / 1e6);
    println!(
        "decompressed {} samples {:?} into {} in {:.2} s ({:.1} MB/s)",
        report.samples,
        report.shape,
        output.display(),
        report.seconds,
        megabytes / report.seconds
    );
    if let Some(dir) = &report.recorded_model {
        println!("decoder from {}, the model directory the file was compressed with", dir.display());
    }
    print_network(&report.network);
    Ok(())
}

pub fn info(path: &std::path::Path, json: bool) -> Result<()> {
    if json {
        let facts = compress::describe_json(path)?;
        println!("{}", serde_json::to_string_pretty(&facts)?);
        return Ok(());
    }
    let text = compress::describe(path)?;
    if text.is_empty() {
        bail!("{} holds nothing to describe", path.display());
    }
    print!("{text}");
    Ok(())
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// The original data.
    #[arg(long)]
    original: PathBuf,
    /// The decompressed data. Give it several times, as LABEL=FILE, to judge reconstructions
    /// side by side (for instance float=float.npz hardware=hardware.npz).
    #[arg(long, required = true, value_name = "[LABEL=]FILE")]
    reconstructed: Vec<String>,
    /// The .baler file of each reconstruction, in the same order, for the compression ratio.
    #[arg(long)]
    compressed: Vec<PathBuf>,
    /// The model directory, for the ratio counting the decoder.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The training loss history (outputs/training/loss.csv) to plot beside the rest.
    #[arg(long)]
    loss: Option<PathBuf>,
    /// The report directory: metrics.json, metrics.txt, plots and index.html (one
    /// subdirectory per label, and comparison.txt, when comparing several).
    #[arg(long)]
    out: PathBuf,
}

pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    use balerc_runtime::evaluate::side_by_side::{self, Labelled};
    use balerc_runtime::{dataset, evaluate};
    if !args.compressed.is_empty() && args.compressed.len() != args.reconstructed.len() {
        bail!(
            "{} --compressed files for {} --reconstructed ones: give one per reconstruction, in the same order",
            args.compressed.len(),
            args.reconstructed.len()
        );
    }
    let stages = 1 + 3 * args.reconstructed.len() + usize::from(args.reconstructed.len() > 1);
    let mut stage = 0;
    let spinner = crate::spinner::Spinner::on_terminal("");
    let mut say = |what: String| {
        stage += 1;
        spinner.say(format!("evaluating, step {stage} of {stages}: {what}"));
    };
    say(format!("reading {}", args.original.display()));
    let original = dataset::read(&args.original)?;
    let size = |path: &std::path::Path| std::fs::metadata(path).map(|m| m.len());
    let decoder_bytes = |dir: &std::path::Path| std::fs::read(dir.join(balerc_runtime::model_dir::DECODER_ONNX));
    let model_bytes = args
        .model
        .as_deref()
        .map(|dir| decoder_bytes(dir).map(|onnx| balerc_runtime::compress::model_bytes(&onnx)))
        .transpose()?;
    let loss_history = args.loss.as_deref().map(read_loss_csv).transpose()?;
    let several = args.reconstructed.len() > 1;
    let mut runs = vec![];
    // Kept for the comparison's overlaid plots.
    let mut reconstructions = vec![];
    for (index, given) in args.reconstructed.iter().enumerate() {
        let (label, path) = labelled(given)?;
        say(format!("reading {}", path.display()));
        let reconstructed = dataset::read(&path)?;
        let input = evaluate::EvaluationInput {
            original: &original,
            reconstructed: &reconstructed,
            compressed_bytes: args.compressed.get(index).map(|p| size(p)).transpose()?,
            model_bytes,
            original_bytes: size(&args.original)?,
            loss_history: loss_history.clone(),
        };
        say(format!("metrics of {label}"));
        let metrics = evaluate::compute(&input).map_err(anyhow::Error::msg)?;
        let out = if several { args.out.join(&label) } else { args.out.clone() };
        say(format!("plots of {label} into {}", out.display()));
        let written = evaluate::write_report(&input, &metrics, &out).map_err(anyhow::Error::msg)?;
        spinner.suspend(|| {
            if !several {
                print!("{}", evaluate::table(&metrics));
            }
            println!("wrote {} files to {} (open {})", written.len(), out.display(), out.join("index.html").display());
        });
        runs.push(Labelled { label, metrics });
        if several {
            reconstructions.push(reconstructed);
        }
    }
    if several {
        say("the comparison".into());
        let reconstructed: Vec<&dataset::Dataset> = reconstructions.iter().collect();
        side_by_side::write(&runs, &original, &reconstructed, &args.out).map_err(anyhow::Error::msg)?;
        spinner.suspend(|| {
            print!("{}", side_by_side::table(&runs));
            println!("wrote the comparison to {}", args.out.join("index.html").display());
        });
    }
    Ok(())
}

/// `LABEL=FILE`, or a plain file labelled by its stem; the label names a report directory.
fn labelled(given: &str) -> Result<(String, PathBuf)> {
    let (label, path) = match given.split_once('=') {
        Some((label, path)) => (label.to_string(), PathBuf::from(path)),
        None => {
            let path = PathBuf::from(given);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            (stem, path)
        }
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if label.is_empty() || label.starts_with('.') || !label.chars().all(plain) {
        bail!("--reconstructed {given}: a label is letters, digits, '-', '_' and '.' (it names a report directory)");
    }
    Ok((label, path))
}

/// `loss.csv` as `balerc train` writes it: epoch, train_loss, validation_loss, ...
fn read_loss_csv(path: &std::path::Path) -> Result<Vec<(usize, f64, Option<f64>)>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut rows = vec![];
    for (number, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let parsed = (cells.first().and_then(|c| c.parse().ok()), cells.get(1).and_then(|c| c.parse().ok()));
        let (Some(epoch), Some(train)) = parsed else {
            bail!("{}: line {} is not 'epoch,train_loss,validation_loss,...'", path.display(), number + 1);
        };
        rows.push((epoch, train, cells.get(2).and_then(|c| c.parse().ok())));
    }
    Ok(rows)
}

//! `balerc compress`, `decompress`, `info` and `evaluate`: the front end of the compression
//! workflow.

use anyhow::{bail, Result};
use balerc_runtime::compress::{self, CompressOptions, DecompressOptions, ErrorBound};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompressArgs {
    /// The model directory written by balerc train.
    #[arg(long)]
    model: PathBuf,
    /// The data (.npz, .npy or .csv) with the layout the model was trained on.
    #[arg(long)]
    input: PathBuf,
    /// The .baler file to write.
    #[arg(long)]
    output: PathBuf,
    /// Bits per stored latent value.
    #[arg(long, default_value_t = 16)]
    latent_bits: u32,
    /// Guarantee |reconstructed - original| <= this for every value, in the data's units.
    #[arg(long, conflicts_with = "max_rel_error")]
    max_abs_error: Option<f64>,
    /// Guarantee the error of every value stays within this fraction of its column's value
    /// range (max - min), as SZ3 counts it.
    #[arg(long)]
    max_rel_error: Option<f64>,
    /// Store the decoder in the file so that it decompresses without the model directory.
    #[arg(long)]
    embed_model: bool,
    /// Samples per chunk (the unit of memory and of parallel work); by default about 8 MB of values.
    #[arg(long)]
    chunk_samples: Option<usize>,
}

pub fn compress(args: &CompressArgs) -> Result<()> {
    let bound = match (args.max_abs_error, args.max_rel_error) {
        (Some(e), _) => Some(ErrorBound::Absolute(e)),
        (_, Some(r)) => Some(ErrorBound::RelativeToRange(r)),
        _ => None,
    };
    let options = CompressOptions {
        model: args.model.clone(),
        input: args.input.clone(),
        output: args.output.clone(),
        latent_bits: args.latent_bits,
        bound,
        embed_model: args.embed_model,
        chunk_samples: args.chunk_samples,
    };
    let report = compress::compress(&options).map_err(anyhow::Error::msg)?;
    let megabytes = report.original_bytes as f64 / 1e6;
    println!(
        "compressed {} samples of {} into {}: {} -> {} bytes, ratio {:.2} ({:.2} counting the {}-byte decoder{}); {} outliers stored exactly; {:.2} s, {:.1} MB/s",
        report.samples,
        args.input.display(),
        args.output.display(),
        report.original_bytes,
        report.compressed_bytes,
        report.ratio(),
        report.original_bytes as f64 / (report.compressed_bytes + if args.embed_model { 0 } else { report.model_bytes }) as f64,
        report.model_bytes,
        if args.embed_model { ", embedded" } else { "" },
        report.outliers,
        report.seconds,
        megabytes / report.seconds,
    );
    Ok(())
}

#[derive(Args)]
pub struct DecompressArgs {
    /// The .baler file.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the data (.npz, .npy or .csv; the original's form by default).
    #[arg(long)]
    output: PathBuf,
    /// The model directory, unless the decoder is embedded in the file.
    #[arg(long)]
    model: Option<PathBuf>,
}

pub fn decompress(args: &DecompressArgs) -> Result<()> {
    let options =
        DecompressOptions { input: args.input.clone(), output: args.output.clone(), model: args.model.clone() };
    let report = compress::decompress(&options).map_err(anyhow::Error::msg)?;
    let megabytes = std::fs::metadata(&args.output).map_or(0.0, |m| m.len() as f64 / 1e6);
    println!(
        "decompressed {} samples {:?} into {} in {:.2} s ({:.1} MB/s)",
        report.samples,
        report.shape,
        args.output.display(),
        report.seconds,
        megabytes / report.seconds
    );
    Ok(())
}

pub fn info(path: &std::path::Path) -> Result<()> {
    let text = compress::describe(path).map_err(anyhow::Error::msg)?;
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
    /// The decompressed data.
    #[arg(long)]
    reconstructed: PathBuf,
    /// The .baler file, for the compression ratio.
    #[arg(long)]
    compressed: Option<PathBuf>,
    /// The model directory, for the ratio counting the decoder.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The training loss history (outputs/training/loss.csv) to plot beside the rest.
    #[arg(long)]
    loss: Option<PathBuf>,
    /// The report directory: metrics.json, metrics.txt, plots and index.html.
    #[arg(long)]
    out: PathBuf,
}

pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    use balerc_runtime::{dataset, evaluate};
    let original = dataset::read(&args.original)?;
    let reconstructed = dataset::read(&args.reconstructed)?;
    let size = |path: &std::path::Path| std::fs::metadata(path).map(|m| m.len());
    let input = evaluate::EvaluationInput {
        original: &original,
        reconstructed: &reconstructed,
        compressed_bytes: args.compressed.as_deref().map(size).transpose()?,
        model_bytes: args
            .model
            .as_deref()
            .map(|m| size(&m.join(balerc_runtime::model_dir::DECODER_ONNX)))
            .transpose()?,
        original_bytes: size(&args.original)?,
        loss_history: args.loss.as_deref().map(read_loss_csv).transpose()?,
    };
    let metrics = evaluate::compute(&input).map_err(anyhow::Error::msg)?;
    print!("{}", evaluate::table(&metrics));
    let written = evaluate::write_report(&input, &metrics, &args.out).map_err(anyhow::Error::msg)?;
    println!(
        "wrote {} files to {} (open {})",
        written.len(),
        args.out.display(),
        args.out.join("index.html").display()
    );
    Ok(())
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

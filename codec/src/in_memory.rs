//! Compression of an array held in memory into the bytes of a `.baler` file, and back: for
//! programs (the Python package, numcodecs) that hold their data rather than a file.
//!
//! Both directions run the very pipeline `balerc compress` and `decompress` run, through a
//! private temporary directory: the array is staged as the `.npy` file it would be on disk, so
//! the bytes are those the command line writes for that file, and what comes back is what it
//! would restore. Messages name the array and the bytes, not the staged files.

use crate::compress::{self, CompressOptions, CompressReport, DecompressOptions, DecompressReport};
use crate::CodecError;
use balerc_io::dataset::{self, Dataset, FileFormat};
use std::path::{Path, PathBuf};

/// What an in-memory compression or decompression can fail with.
#[derive(Debug, thiserror::Error)]
pub enum InMemoryError {
    /// The pipeline's own error (`error`), its message (which quotes the causes) speaking of
    /// the array and the bytes.
    #[error("{message}")]
    Codec { message: String, error: CodecError },
    #[error("cannot stage the data in a temporary directory: {0}")]
    Stage(std::io::Error),
}

/// What the staged files are called in messages.
const ARRAY: &str = "the array";
const BYTES: &str = "the compressed bytes";

/// A private directory holding the staged array and file, removed when dropped.
struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    fn new() -> Result<Staging, InMemoryError> {
        let dir = tempfile::Builder::new().prefix(".balerc-").tempdir().map_err(InMemoryError::Stage)?;
        Ok(Staging { dir })
    }

    fn array(&self) -> PathBuf {
        self.dir.path().join("array.npy")
    }

    fn baler(&self) -> PathBuf {
        self.dir.path().join("data.baler")
    }

    /// The pipeline's error, with the staged paths named as the caller knows them.
    fn explained(&self, error: CodecError) -> InMemoryError {
        let message = balerc_io::message::of_error(&error)
            .replace(&self.array().display().to_string(), ARRAY)
            .replace(&self.baler().display().to_string(), BYTES);
        InMemoryError::Codec { message, error }
    }

    fn explained_dataset(&self, source: dataset::DatasetError) -> InMemoryError {
        self.explained(CodecError::Dataset(source))
    }
}

/// Compresses `data` (samples along the first axis, its values stored as `data.dtype`) as
/// `balerc compress` compresses the same array saved as a `.npy` file. `options` gives the
/// model and the settings; its `input` and `output` are not read.
pub fn compress_dataset(data: &Dataset, options: &CompressOptions) -> Result<(Vec<u8>, CompressReport), InMemoryError> {
    let staging = Staging::new()?;
    let array = Dataset { format: FileFormat::Npy, names: vec![], ..data.clone() };
    array.check_finite(&staging.array()).map_err(|e| staging.explained_dataset(e))?;
    dataset::write(&staging.array(), &array).map_err(|e| staging.explained_dataset(e))?;
    let options = CompressOptions { input: staging.array(), output: staging.baler(), ..options.clone() };
    let report = compress::compress(&options).map_err(|e| staging.explained(e))?;
    let bytes = read(&staging.baler())?;
    Ok((bytes, report))
}

/// Restores the array that `bytes` (a whole `.baler` file) hold, as `balerc decompress` would
/// write it to a `.npy` file. `model` is the model directory when the decoder is not embedded.
pub fn decompress_bytes(bytes: &[u8], model: Option<&Path>) -> Result<(Dataset, DecompressReport), InMemoryError> {
    let staging = Staging::new()?;
    std::fs::write(staging.baler(), bytes).map_err(InMemoryError::Stage)?;
    let options = DecompressOptions {
        input: staging.baler(),
        output: staging.array(),
        model: model.map(Path::to_path_buf),
        decoder_precision: None,
    };
    let report = compress::decompress(&options).map_err(|e| staging.explained(e))?;
    let data = dataset::read(&staging.array()).map_err(|e| staging.explained_dataset(e))?;
    Ok((data, report))
}

fn read(path: &Path) -> Result<Vec<u8>, InMemoryError> {
    std::fs::read(path).map_err(InMemoryError::Stage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::{Embedding, EncoderChoice, ErrorBound, LatentBits, OutlierChoice};

    const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jets_model");

    fn options(bound: Option<ErrorBound>) -> CompressOptions {
        CompressOptions {
            model: MODEL.into(),
            input: PathBuf::new(),
            output: PathBuf::new(),
            latent_bits: LatentBits::Fixed(12),
            bound,
            embed_model: Embedding::Always,
            encoder: EncoderChoice::Float,
            chunk_samples: None,
            relations: vec![],
            outliers: OutlierChoice::default(),
            columns: vec![],
        }
    }

    /// The first rows of the bundled jets, without their names, as a numpy array holds them.
    fn table(rows: usize) -> Dataset {
        let jets = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/jets_sample.npz");
        let data = dataset::read(Path::new(jets)).unwrap().slice_samples(0, rows);
        Dataset { names: vec![], format: FileFormat::Npy, ..data }
    }

    #[test]
    fn the_bytes_are_those_of_the_same_array_compressed_from_a_file() {
        let data = table(300);
        let bound = Some(ErrorBound::Absolute(1e-3));
        let (bytes, report) = compress_dataset(&data, &options(bound)).unwrap();
        assert_eq!(report.samples, 300);

        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("x.npy"), dir.path().join("x.baler"));
        dataset::write(&input, &data).unwrap();
        compress::compress(&CompressOptions { input, output: output.clone(), ..options(bound) }).unwrap();
        assert_eq!(bytes, std::fs::read(&output).unwrap());

        let (restored, _) = decompress_bytes(&bytes, None).unwrap();
        assert_eq!(restored.values.shape(), data.values.shape());
        let worst = restored.values.iter().zip(&data.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-3, "{worst}");
    }

    #[test]
    fn messages_name_the_array_and_the_bytes() {
        let mut data = table(10);
        data.values[[3, 5]] = f64::NAN;
        let err = compress_dataset(&data, &options(None)).unwrap_err().to_string();
        assert_eq!(err, "the array: row 3, column 5 is NaN");
        let err = decompress_bytes(b"not a baler file", None).unwrap_err().to_string();
        assert!(err.starts_with(BYTES), "{err}");
    }
}

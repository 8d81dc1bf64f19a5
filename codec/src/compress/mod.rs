//! `balerc compress` and `balerc decompress`: data through a trained autoencoder into a
//! `.baler` file and back.
//!
//! The encoder's latent values are stored as integer codes. Decoding runs the decoder's ONNX
//! graph in f64 with the compiler's float program, which is deterministic and needs no
//! training backend, so the prediction at decompression is bit for bit the one compression
//! saw. That is what makes the error-bounded mode a guarantee: the residual between the data
//! and the prediction is quantized to steps of twice the bound, every reconstructed value is
//! checked against its original before anything is written, and a value that misses is stored
//! exactly as an outlier.
//!
//! Both directions stream: the data is read, processed and written a chunk of samples at a
//! time, several chunks at once on all cores, so memory stays bounded whatever the file's size.

mod adaptive_bits;
pub(crate) mod bytes;
mod chunk_error;
mod corrupt;
mod decoder;
mod encoder;
pub(crate) mod entropy;
pub(crate) mod field_neighbours;
mod flagged;
mod header;
mod in_order;
pub(crate) mod interleaved;
pub(crate) mod latent;
mod latent_bits;
mod linear_fit;
mod network_error;
pub mod packed_decoder;
mod recycled;
mod relation;
pub(crate) mod residual_context;
pub(crate) mod residual_plan;
mod row_blocks;
pub mod section_name;
#[cfg(test)]
mod stored_sections;
mod table_residuals;
mod taps;
#[cfg(test)]
mod tests;
pub(crate) mod weight_codes;

/// What the entry points below fail with.
pub use crate::CodecError;
pub use chunk_error::ChunkError;
pub use corrupt::CorruptSection;
pub use decoder::Decoder;
pub use encoder::{EncoderChoice, LatentEncoder, RawLatent};
pub use flagged::OutlierChoice;
pub use header::{ErrorBound, HardwareEncoding, Header, HeaderError, OutlierSamples};
pub use latent_bits::LatentBits;
pub use network_error::NetworkError;
pub use packed_decoder::{DamagedDecoder, DecoderDamage};
pub use relation::{FormulaProblem, RelationError, Token};
pub use section_name::SectionName;

use crate::container::{Chunk, Reader, Section, Writer};
use crate::density::OutlierModel;
use crate::error::check_interrupt;
use crate::model_files::{self, ModelLayout, DECODER_ONNX};
use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::FloatProgram;
use balerc_compiler::LowerOptions;
use balerc_io::dataset::{self, Dataset, Layout, SampleReader, SampleWriter};
use balerc_io::frame_stacks;
use balerc_io::numbers::four_significant;
use ndarray::{ArrayD, Axis, IxDyn};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Values per chunk: about 8 MB of f64 in flight per chunk, whatever the sample size.
const CHUNK_VALUES: usize = 1 << 20;
const DECODER_ATTACHMENT: &str = "decoder.onnx";
/// Where a file that leaves its decoder out records the model directory it was compressed
/// with (UTF-8), so that decompression can find it there. An attachment, not a header field:
/// earlier balerc reads such files as before.
const MODEL_DIR_ATTACHMENT: &str = "model_dir";

/// Whether a file carries its decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Embedding {
    Always,
    Never,
    /// When the decoder, as stored, costs at most this share of the rest of the file.
    WhenUnder(f64),
}

/// The default: a decoder that adds under 2 % to the file travels with it.
pub const EMBED_WHEN_UNDER: Embedding = Embedding::WhenUnder(0.02);

#[derive(Debug, Clone)]
pub struct CompressOptions {
    pub model: PathBuf,
    pub input: PathBuf,
    pub output: PathBuf,
    /// Bits per stored latent value, or `Auto` to try a few with an error bound.
    pub latent_bits: LatentBits,
    pub bound: Option<ErrorBound>,
    /// Whether the decoder goes into the file, so that it decodes with nothing else.
    pub embed_model: Embedding,
    pub encoder: EncoderChoice,
    /// Samples per chunk; by default as many as make about 8 MB of values.
    pub chunk_samples: Option<usize>,
    /// Formulas between table columns (`px = pt * cos(phi)`) that sharpen an error bound's
    /// predictions.
    pub relations: Vec<String>,
    /// Whether samples the model's latent density flags are stored in full.
    pub outliers: OutlierChoice,
    /// The columns of the input's table to compress (names, or indices as strings). When
    /// empty: the model's training columns where the input's table has others too, else all.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CompressReport {
    pub samples: usize,
    pub original_bytes: u64,
    pub compressed_bytes: u64,
    /// Bytes of the decoder needed to read the file (inside it when embedded).
    pub model_bytes: u64,
    /// Whether the file carries its decoder.
    pub model_embedded: bool,
    /// Values the residual coding could not bring within the error bound, stored exactly.
    pub outliers: usize,
    /// Samples the latent density flagged, stored in full; None without outlier removal.
    pub outlier_samples: Option<usize>,
    pub seconds: f64,
    /// Bits per stored latent value.
    pub latent_bits: u32,
    /// With `--latent-bits auto`, each width tried and the bytes of its trial, smallest first.
    pub latent_bits_trials: Vec<latent_bits::Trial>,
    /// What the float encoder and decoder computed, and how fast.
    pub network: NetworkWork,
}

/// Floating-point operations the networks did and the seconds they took, added up over threads.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct NetworkWork {
    pub flops: f64,
    pub seconds: f64,
}

impl NetworkWork {
    fn of<'p>(programs: impl IntoIterator<Item = &'p FloatProgram>) -> NetworkWork {
        programs.into_iter().map(FloatProgram::work_done).fold(NetworkWork::default(), |sum, (flops, seconds)| {
            NetworkWork { flops: sum.flops + flops, seconds: sum.seconds + seconds }
        })
    }

    /// Billions of floating-point operations a second, on one core.
    pub fn gflops_per_second(&self) -> f64 {
        self.flops / self.seconds.max(1e-12) * 1e-9
    }
}

impl CompressReport {
    pub fn ratio(&self) -> f64 {
        self.original_bytes as f64 / self.compressed_bytes as f64
    }
}

/// Told, on the thread that writes, how many of the file's samples are done.
pub trait Progress {
    fn samples_done(&mut self, done: u64, total: u64);
}

/// Tells nobody.
impl Progress for () {
    fn samples_done(&mut self, _: u64, _: u64) {}
}

pub fn compress(options: &CompressOptions) -> Result<CompressReport, CodecError> {
    compress_with_progress(options, &mut ())
}

/// [`compress`], telling `progress` as each chunk is written.
pub fn compress_with_progress(
    options: &CompressOptions,
    progress: &mut dyn Progress,
) -> Result<CompressReport, CodecError> {
    let started = Instant::now();
    let info = model_files::load_layout(&options.model)?;
    let (options, input) = input_as_trained(options, &info)?;
    let options = options.as_ref();
    let samples = input.layout().samples();
    let decoder_bytes = read_file(&options.model.join(DECODER_ONNX))?;
    let encoder = LatentEncoder::open(&options.encoder, &options.model)?;
    encoder.check_fits(info.features(), info.latent)?;
    let ranges = |header: &Header| feature_ranges(header, options);
    let mut header = Header::new(&info, input.layout(), &decoder_bytes, encoder.hardware(), options, ranges)?;
    let density = flagged::density(options.outliers, &options.model)?;
    header.outlier_samples = density.as_ref().map(|d| OutlierSamples { log_density_threshold: d.threshold });
    let density = density.as_ref();
    let decoder = Decoder::Float(program(&options.model.join(DECODER_ONNX))?);
    let latent_bits_trials = match options.latent_bits == LatentBits::Auto && header.hardware.is_none() {
        true => match first_samples(&header, options, latent_bits::trial_samples(&header))? {
            Some(first) => latent_bits::trials(&header, &encoder, &decoder, density, &first)?,
            None => vec![],
        },
        false => vec![],
    };
    header.latent_bits = latent_bits_trials.first().map_or(header.latent_bits, |&(bits, _)| bits);

    let mut writer = Writer::create(&options.output, &header.to_json())?;
    let packer = writer.packer();
    let mut outliers = Outliers::default();
    let chunks = samples_as_modelled(&header, input, header.chunk_samples).enumerate();
    let (total, mut done) = (header.shape[0] as u64, 0);
    in_order::map_in_order(
        chunks.map(|(index, data)| data.map(|data| (index, data))),
        |(index, data)| {
            let (chunk, chunk_outliers) = compress_chunk(&header, &encoder, &decoder, density, &data)?;
            Ok((packer.pack(index, &chunk)?, chunk_outliers, chunk.samples))
        },
        |(packed, chunk_outliers, samples)| {
            outliers.values += chunk_outliers.values;
            outliers.samples += chunk_outliers.samples;
            writer.write_packed(packed)?;
            done += samples;
            progress.samples_done(done, total);
            Ok(())
        },
    )?;
    let (attachment, embedded) = embedded_decoder(&decoder_bytes);
    let model_bytes = stored_len(&embedded);
    let model_embedded = match options.embed_model {
        Embedding::Always => true,
        Embedding::Never => false,
        Embedding::WhenUnder(share) => model_bytes as f64 <= share * writer.bytes_written() as f64,
    };
    match model_embedded {
        true => writer.attach(attachment, &embedded)?,
        false => {
            if let Some(dir) = recordable_dir(&options.model) {
                writer.attach(MODEL_DIR_ATTACHMENT, dir.as_bytes())?;
            }
        }
    }
    let summary = writer.finish()?;
    Ok(CompressReport {
        samples,
        original_bytes: original_bytes(&header, &options.input),
        compressed_bytes: summary.sizes.file,
        model_bytes,
        model_embedded,
        outliers: outliers.values,
        outlier_samples: density.map(|_| outliers.samples),
        seconds: started.elapsed().as_secs_f64(),
        latent_bits: header.latent_bits,
        latent_bits_trials,
        network: NetworkWork::of(encoder.float_program().into_iter().chain(decoder.float_program())),
    })
}

/// The input, opened once where it is as the model was trained. Where no columns are named
/// and the input's table holds the model's training columns among others (or others balerc
/// cannot read), those columns of it: a model trained on some columns of a table compresses
/// those of it.
fn input_as_trained<'o>(
    options: &'o CompressOptions,
    info: &ModelLayout,
) -> Result<(Cow<'o, CompressOptions>, SampleReader), CodecError> {
    let opened = open_input(options);
    if !options.columns.is_empty() || info.columns.is_empty() {
        return Ok((Cow::Borrowed(options), opened?));
    }
    if let Ok(input) = opened {
        let names = &input.layout().names;
        if names == &info.columns || !info.columns.iter().all(|c| names.contains(c)) {
            return Ok((Cow::Borrowed(options), input));
        }
    }
    let with_model_columns = CompressOptions { columns: info.columns.clone(), ..options.clone() };
    let input = open_input(&with_model_columns)?;
    Ok((Cow::Owned(with_model_columns), input))
}

fn open_input(options: &CompressOptions) -> Result<SampleReader, CodecError> {
    Ok(SampleReader::open_columns(&options.input, &options.columns).map(SampleReader::require_finite)?)
}

/// The input's samples as the model takes them, `count` at a time: single frames grouped into
/// the stacks of the header's `frames_per_sample`.
fn samples_as_modelled(
    header: &Header,
    input: SampleReader,
    count: usize,
) -> impl Iterator<Item = Result<Dataset, CodecError>> + use<> {
    let frames = header.frames_per_sample.unwrap_or(1);
    input.chunks(count * frames).map(move |data| {
        let data = data?;
        match frames {
            1 => Ok(data),
            _ => {
                let values = frame_stacks::stack_frames(data.values, frames).map_err(CodecError::Stacking)?;
                Ok(Dataset { values, ..data })
            }
        }
    })
}

/// The input's first samples (None for an empty input), for trial compressions.
fn first_samples(header: &Header, options: &CompressOptions, count: usize) -> Result<Option<Dataset>, CodecError> {
    samples_as_modelled(header, open_input(options)?, count).next().transpose()
}

/// Each feature's (min, max) over the whole input: a first pass, for a bound relative to the range.
fn feature_ranges(header: &Header, options: &CompressOptions) -> Result<Vec<(f64, f64)>, CodecError> {
    let mut ranges = header.empty_ranges();
    for data in samples_as_modelled(header, open_input(options)?, header.chunk_samples) {
        check_interrupt()?;
        header.widen_ranges(&data?, &mut ranges);
    }
    Ok(ranges)
}

/// The attachment a file embeds its decoder as: packed, unless its bytes cannot be rebuilt
/// from the packing.
fn embedded_decoder(onnx: &[u8]) -> (&'static str, Vec<u8>) {
    match packed_decoder::pack(onnx) {
        Some(packed) => (packed_decoder::Layout::Coded.attachment(), packed),
        None => (DECODER_ATTACHMENT, onnx.to_vec()),
    }
}

/// What a decoder adds to a file that embeds it, compressed as the file stores it: the cost of
/// sending the model along, for ratios counting the model.
pub fn model_bytes(decoder_onnx: &[u8]) -> u64 {
    stored_len(&embedded_decoder(decoder_onnx).1)
}

/// What the container stores for a section: zstd's output, or the bytes as they are.
fn stored_len(bytes: &[u8]) -> u64 {
    crate::container::compress_section(bytes, crate::container::DEFAULT_COMPRESSION_LEVEL)
        .map_or(bytes.len(), |compressed| compressed.len().min(bytes.len())) as u64
}

/// The model directory as an absolute UTF-8 path, for a file that does not embed its decoder.
fn recordable_dir(model: &Path) -> Option<String> {
    let absolute = std::fs::canonicalize(model).ok()?;
    absolute.to_str().map(str::to_owned)
}

fn read_file(path: &Path) -> Result<Vec<u8>, CodecError> {
    std::fs::read(path).map_err(|source| CodecError::ReadModelFile { path: path.to_path_buf(), source })
}

fn program(onnx: &Path) -> Result<FloatProgram, NetworkError> {
    let compile_error = |source| NetworkError::Compile { onnx: onnx.to_path_buf(), source };
    let graph = balerc_compiler::load_and_optimize(onnx, Part::Full).map_err(compile_error)?;
    FloatProgram::new(&graph).map_err(compile_error)
}

/// Modelled values, normalized as the model was trained.
fn normalized(header: &Header, modelled: &[f64]) -> Vec<f64> {
    let normalization = header.sample_normalization();
    let mut values = Vec::with_capacity(modelled.len());
    for row in modelled.chunks(normalization.len().max(1)) {
        values.extend(row.iter().zip(&normalization).map(|(&v, &(offset, scale))| (v - offset) / scale));
    }
    values
}

/// The values the model codes, one sample after another: the data's own where it holds
/// nothing else (no copy of the chunk), else the modelled columns gathered.
fn modelled_values<'d>(header: &Header, data: &'d Dataset) -> Cow<'d, [f64]> {
    let every_column = header.modelled_columns.iter().copied().eq(0..data.values.shape().get(1).copied().unwrap_or(0));
    if let Some(values) = data.values.as_slice().filter(|_| !header.is_table() || every_column) {
        return Cow::Borrowed(values);
    }
    let values = match header.is_table() {
        true => data.values.select(Axis(1), &header.modelled_columns),
        false => data.values.clone(),
    };
    Cow::Owned(values.as_standard_layout().iter().copied().collect())
}

fn lossless_values(header: &Header, data: &Dataset) -> Vec<f64> {
    if header.lossless_columns.is_empty() {
        return vec![];
    }
    let values = data.values.select(Axis(1), &header.lossless_columns);
    values.as_standard_layout().iter().copied().collect()
}

/// The decoder's prediction of the modelled values in the data's units, before storage.
fn predict(header: &Header, decoder: &Decoder, latent: &[f64]) -> Result<Vec<f64>, NetworkError> {
    let normalization = header.sample_normalization();
    let mut prediction = decoder.run(latent)?;
    for row in prediction.chunks_mut(normalization.len().max(1)) {
        for (v, &(offset, scale)) in row.iter_mut().zip(&normalization) {
            *v = *v * scale + offset;
        }
    }
    Ok(prediction)
}

/// What a chunk stored exactly: single values beyond the error bound, and whole samples.
#[derive(Debug, Default)]
struct Outliers {
    values: usize,
    samples: usize,
}

fn compress_chunk(
    header: &Header,
    encoder: &LatentEncoder,
    decoder: &Decoder,
    density: Option<&OutlierModel>,
    data: &Dataset,
) -> Result<(Chunk, Outliers), ChunkError> {
    let encoded = encode_chunk(header, encoder, density, data)?;
    compress_encoded(header, encoder, decoder, data, &encoded)
}

/// A chunk through the encoder: what compressing it with any latent width shares.
struct EncodedChunk<'d> {
    /// The modelled values of the samples the model codes (the flagged ones left out).
    original: Cow<'d, [f64]>,
    raw: RawLatent,
    /// The samples the latent density flagged, and their modelled values.
    flagged: Vec<usize>,
    flagged_values: Vec<f64>,
}

fn encode_chunk<'d>(
    header: &Header,
    encoder: &LatentEncoder,
    density: Option<&OutlierModel>,
    data: &'d Dataset,
) -> Result<EncodedChunk<'d>, ChunkError> {
    let per_sample = header.modelled_per_sample;
    let mut original = modelled_values(header, data);
    let mut raw = encoder.run(&normalized(header, &original))?;
    let flagged = density.map_or(vec![], |d| flagged::flag(d, &raw.values()));
    let flagged_values = flagged::rows(&original, per_sample, &flagged);
    if !flagged.is_empty() {
        let others = flagged::others(&flagged, data.samples());
        original = Cow::Owned(flagged::rows(&original, per_sample, &others));
        raw = raw.rows(header.latent_width, &others);
    }
    Ok(EncodedChunk { original, raw, flagged, flagged_values })
}

/// The sections of an encoded chunk, its latents stored as the header says.
fn compress_encoded(
    header: &Header,
    encoder: &LatentEncoder,
    decoder: &Decoder,
    data: &Dataset,
    encoded: &EncodedChunk,
) -> Result<(Chunk, Outliers), ChunkError> {
    let samples = data.samples();
    let EncodedChunk { original, raw, flagged, flagged_values } = encoded;
    let (quantized, latent_values) = encoder.store(header, raw)?;
    let codes = latent::encode_entropy(&quantized, header.latent_width, header.latent_bits);
    let (range_name, ranges) = latent::range_section(&quantized);
    let mut sections = vec![section(range_name, ranges), section(SectionName::LatentCodes, codes)];

    let mut outliers = vec![];
    if let Some(bound) = &header.error_bound {
        let relations = header.relations()?;
        let (plan, residuals) = match table_residuals::applies(header) {
            true => {
                let trial_end = residual_plan::plan_trial_end(header, original.len());
                let predict_rows = row_blocks::decoder_prediction(header, decoder, &latent_values);
                let (plan, codes, found) =
                    row_blocks::code_table(header, bound, &relations, original, trial_end, predict_rows)?;
                outliers.extend(found);
                (plan, codes)
            }
            false => {
                let prediction = predict(header, decoder, &latent_values)?;
                residual_plan::code_residuals(header, bound, &relations, original, &prediction, &mut outliers)
            }
        };
        if !plan.is_decoder_only() {
            sections.push(section(SectionName::ResidualPlan, plan.to_bytes()));
        }
        let symbols: Vec<u64> = residuals.into_iter().map(bytes::zigzag).collect();
        sections.push(residual_section(header, &symbols));
    }
    let counts = Outliers { values: outliers.len(), samples: flagged.len() };
    let (indices, values): (Vec<i64>, Vec<f64>) = outliers.into_iter().unzip();
    sections.push(section(SectionName::OutlierIndex, bytes::encode_varints(deltas(&indices))));
    sections.push(section(SectionName::OutlierValue, bytes::encode_f64s(&values)));
    if header.outlier_samples.is_some() {
        sections.extend(flagged::sections(flagged, flagged_values));
    }
    sections.push(section(SectionName::Lossless, bytes::encode_f64s(&lossless_values(header, data))));
    // Empty, these would cost their framing, which on a small file is a noticeable share.
    sections.retain(|s| !(s.bytes.is_empty() && SectionName::parse(&s.name).is_some_and(SectionName::is_optional)));
    Ok((Chunk { samples: samples as u64, sections }, counts))
}

/// The residual codes entropy coded per feature, or a field's in contexts of its neighbours
/// where that is smaller.
fn residual_section(header: &Header, symbols: &[u64]) -> Section {
    let per_feature = interleaved::encode(symbols, header.feature_count());
    let in_contexts = context_frame(header).map(|frame| residual_context::encode_adaptive(symbols, frame));
    match in_contexts {
        Some(stored) if stored.len() < per_feature.len() => section(SectionName::ResidualAdaptive, stored),
        _ => section(SectionName::ResidualPerFeatureInLanes, per_feature),
    }
}

/// The frames whose residual codes may be coded in neighbourhood contexts: a field's, when
/// one normalization feature covers it (its codes then lie in frame order).
fn context_frame(header: &Header) -> Option<(usize, usize)> {
    header.frame_shape().filter(|_| header.feature_count() == 1)
}

fn section(name: SectionName, bytes: Vec<u8>) -> Section {
    Section { name: name.as_str().into(), bytes }
}

/// Increasing indices as gaps, which are small and compress well.
fn deltas(indices: &[i64]) -> Vec<i64> {
    let mut previous = 0;
    indices
        .iter()
        .map(|&i| {
            let gap = i - previous;
            previous = i;
            gap
        })
        .collect()
}

fn undeltas(gaps: Vec<i64>) -> Vec<i64> {
    gaps.into_iter()
        .scan(0i64, |sum, gap| {
            *sum += gap;
            Some(*sum)
        })
        .collect()
}

pub struct DecompressOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// The model directory, when the decoder is not embedded in the file.
    pub model: Option<PathBuf>,
    /// Decode with the decoder quantized to this precision instead of in f64.
    pub decoder_precision: Option<PrecisionConfig>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DecompressReport {
    pub samples: usize,
    pub shape: Vec<usize>,
    pub seconds: f64,
    /// What the float decoder computed, and how fast.
    pub network: NetworkWork,
    /// The model directory the file recorded, where its decoder came from there.
    pub recorded_model: Option<PathBuf>,
}

pub fn decompress(options: &DecompressOptions) -> Result<DecompressReport, CodecError> {
    decompress_with_progress(options, &mut ())
}

/// [`decompress`], telling `progress` as each chunk is written.
pub fn decompress_with_progress(
    options: &DecompressOptions,
    progress: &mut dyn Progress,
) -> Result<DecompressReport, CodecError> {
    let started = Instant::now();
    let file = &options.input;
    let mut reader = Reader::open(file)?;
    let header = read_header(&reader, file)?;
    if reader.samples() != header.shape[0] as u64 {
        return Err(CodecError::SampleCount { path: file.clone(), chunks: reader.samples(), header: header.shape[0] });
    }
    let (decoder, recorded_model) = decoder_for(&mut reader, &header, options)?;
    let format = dataset::FileFormat::from_path(&options.output).unwrap_or(header.format);
    let layout = Layout {
        shape: header.output_shape(),
        names: header.names.clone(),
        dtype: header.dtype,
        format,
        column_dtypes: header.column_dtypes.clone(),
    };
    let mut output = SampleWriter::create(&options.output, &layout)?;
    let (total, mut done) = (header.shape[0] as u64, 0);
    let chunks = (0..reader.chunk_count()).map(move |index| Ok::<_, CodecError>((index, reader.read_chunk(index)?)));
    in_order::map_in_order(
        chunks,
        |(index, chunk)| {
            decompress_chunk(&header, &decoder, &chunk).map_err(|source| CodecError::ChunkOfFile {
                path: file.clone(),
                index,
                source: Box::new(source),
            })
        },
        |values| {
            done += values.shape()[0] as u64;
            let values = ungrouped(&header, values);
            output.write(&values)?;
            recycled::VALUES.give(values.into_raw_vec_and_offset().0);
            progress.samples_done(done, total);
            Ok(())
        },
    )?;
    output.finish()?;
    Ok(DecompressReport {
        samples: layout.samples(),
        shape: layout.shape,
        seconds: started.elapsed().as_secs_f64(),
        network: NetworkWork::of(decoder.float_program()),
        recorded_model,
    })
}

/// The ONNX bytes of the decoder a file embeds, in whichever layout it holds them.
fn embedded_onnx(reader: &mut Reader, file: &Path) -> Result<Option<Vec<u8>>, CodecError> {
    let unreadable = |source| CodecError::ReadEmbeddedDecoder { path: file.to_path_buf(), source };
    for layout in packed_decoder::Layout::ALL {
        if let Some(packed) = reader.attachment(layout.attachment()).map_err(unreadable)? {
            let damaged = |source| CodecError::EmbeddedDecoder { path: file.to_path_buf(), source };
            return packed_decoder::unpack(&packed, layout).map(Some).map_err(damaged);
        }
    }
    reader.attachment(DECODER_ATTACHMENT).map_err(unreadable)
}

/// The embedded decoder, or the model directory's after checking it is the one the file
/// was made with (given, or else the one the file records, which is then returned too).
fn decoder_for(
    reader: &mut Reader,
    header: &Header,
    options: &DecompressOptions,
) -> Result<(Decoder, Option<PathBuf>), CodecError> {
    let file = &options.input;
    let mut recorded = None;
    let bytes = match &options.model {
        Some(dir) => {
            let bytes = read_file(&dir.join(DECODER_ONNX))?;
            if header::model_hash(&bytes) != header.model_hash {
                return Err(CodecError::OtherModel { path: file.clone(), model_dir: dir.clone() });
            }
            bytes
        }
        None => match embedded_onnx(reader, file)? {
            Some(bytes) => bytes,
            None => {
                let (dir, bytes) = recorded_model_decoder(reader, header, file)?;
                recorded = Some(dir);
                bytes
            }
        },
    };
    if header::model_hash(&bytes) != header.model_hash {
        return Err(CodecError::EmbeddedDecoderMismatch { path: file.clone() });
    }
    let staged = tempfile::Builder::new().suffix(".onnx").tempfile().map_err(CodecError::StageDecoder)?;
    std::fs::write(staged.path(), &bytes).map_err(CodecError::StageDecoder)?;
    let Some(precision) = &options.decoder_precision else {
        return Ok((Decoder::Float(program(staged.path())?), recorded));
    };
    if header.error_bound.is_some() {
        return Err(CodecError::BoundNeedsFloatDecoder { path: file.clone() });
    }
    let lower_options = LowerOptions { part: Part::Full, precision: precision.clone(), calibration: None };
    let onnx = staged.path().to_path_buf();
    let lowered =
        balerc_compiler::lower(&onnx, &lower_options).map_err(|source| NetworkError::Compile { onnx, source })?;
    Ok((Decoder::Quantized(Box::new(lowered.model)), recorded))
}

/// The decoder of the model directory a file records, where that directory still holds the
/// model the file was compressed with.
fn recorded_model_decoder(reader: &mut Reader, header: &Header, file: &Path) -> Result<(PathBuf, Vec<u8>), CodecError> {
    let recorded = recorded_model_dir(reader);
    let not_embedded = || CodecError::ModelNotEmbedded {
        path: file.to_path_buf(),
        hash: header.model_hash.clone(),
        recorded: recorded.clone(),
    };
    let dir = recorded.clone().ok_or_else(not_embedded)?;
    match std::fs::read(dir.join(DECODER_ONNX)) {
        Ok(bytes) if header::model_hash(&bytes) == header.model_hash => Ok((dir, bytes)),
        _ => Err(not_embedded()),
    }
}

/// The model directory a file that leaves its decoder out was compressed with, where it says.
fn recorded_model_dir(reader: &mut Reader) -> Option<PathBuf> {
    let bytes = reader.attachment(MODEL_DIR_ATTACHMENT).ok()??;
    String::from_utf8(bytes).ok().map(PathBuf::from)
}

/// Whether a file holds its decoder, in any of the layouts balerc has written.
fn embeds_decoder(reader: &Reader) -> bool {
    let names = reader.attachment_names();
    let decoder_layouts = packed_decoder::Layout::ALL.iter().map(|l| l.attachment()).chain([DECODER_ATTACHMENT]);
    decoder_layouts.into_iter().any(|name| names.iter().any(|n| n == name))
}

/// A section writers leave out when it is empty ([`SectionName::is_optional`]).
fn optional_section_bytes(chunk: &Chunk, name: SectionName) -> &[u8] {
    section_bytes(chunk, name).unwrap_or_default()
}

fn section_bytes(chunk: &Chunk, name: SectionName) -> Result<&[u8], ChunkError> {
    chunk
        .sections
        .iter()
        .find(|s| s.name == name.as_str())
        .map(|s| s.bytes.as_slice())
        .ok_or(ChunkError::MissingSection(name))
}

/// The latent codes, entropy coded (`latent_ans`) or, as earlier balerc wrote them, in byte
/// planes (`latent`).
fn stored_latent(header: &Header, chunk: &Chunk, samples: usize) -> Result<latent::QuantizedLatent, ChunkError> {
    let codes = match section_bytes(chunk, SectionName::LatentCodes) {
        Ok(stored) => latent::StoredCodes::Entropy(stored),
        Err(_) => latent::StoredCodes::Planes(section_bytes(chunk, SectionName::LatentPlanes)?),
    };
    let ranges = if let Ok(stored) = section_bytes(chunk, SectionName::LatentRange16) {
        bytes::decode_f16s(stored)?
    } else if let Ok(stored) = section_bytes(chunk, SectionName::LatentRange32) {
        bytes::decode_f32s(stored)?
    } else {
        bytes::decode_f64s(section_bytes(chunk, SectionName::LatentRange)?)?
    };
    Ok(latent::from_sections(ranges, codes, header.latent_width, samples, header.latent_bits)?)
}

/// The residual codes, entropy coded in a field's contexts (`residual_adaptive`, or with static
/// models `residual_ctx`), per feature in four states (`residual_ans4`) or, as earlier balerc
/// wrote them, per feature in one state (`residual_ans`) or as varints (`residual`).
fn stored_residuals(header: &Header, chunk: &Chunk, count: usize) -> Result<Vec<i64>, ChunkError> {
    let field_frame = || context_frame(header).ok_or(ChunkError::ContextsWithoutField);
    let symbols = if let Ok(stored) = section_bytes(chunk, SectionName::ResidualAdaptive) {
        residual_context::decode_adaptive(stored, count, field_frame()?)?
    } else if let Ok(stored) = section_bytes(chunk, SectionName::ResidualInContexts) {
        residual_context::decode(stored, count, field_frame()?)?
    } else if let Ok(stored) = section_bytes(chunk, SectionName::ResidualPerFeatureInLanes) {
        interleaved::decode(stored, count, header.feature_count())?
    } else if let Ok(stored) = section_bytes(chunk, SectionName::ResidualPerFeature) {
        entropy::decode(stored, count, header.feature_count())?
    } else {
        return Ok(bytes::decode_varints(section_bytes(chunk, SectionName::ResidualVarints)?, count)?);
    };
    Ok(symbols.into_iter().map(bytes::unzigzag).collect())
}

/// The exact values stored for values the residuals could not bring within the bound, with
/// their indices, as stored (increasing in files balerc writes).
fn stored_outliers(chunk: &Chunk, count: usize) -> Result<Vec<(usize, f64)>, ChunkError> {
    let values = bytes::decode_f64s(optional_section_bytes(chunk, SectionName::OutlierValue))?;
    let indices =
        undeltas(bytes::decode_varints(optional_section_bytes(chunk, SectionName::OutlierIndex), values.len())?);
    indices
        .into_iter()
        .zip(values)
        .map(|(index, value)| match usize::try_from(index) {
            Ok(i) if i < count => Ok((i, value)),
            _ => Err(ChunkError::OutlierIndex(index)),
        })
        .collect()
}

/// A chunk's samples as the data had them: stacks of frames back into single frames.
fn ungrouped(header: &Header, values: ArrayD<f64>) -> ArrayD<f64> {
    match header.frames_per_sample {
        Some(_) => {
            let frames: Vec<usize> = [values.shape()[0] * values.shape()[1]]
                .into_iter()
                .chain(values.shape()[2..].iter().copied())
                .collect();
            values.into_shape_with_order(IxDyn(&frames)).expect("the same number of values")
        }
        None => values,
    }
}

fn decompress_chunk(header: &Header, decoder: &Decoder, chunk: &Chunk) -> Result<ArrayD<f64>, ChunkError> {
    let samples = usize::try_from(chunk.samples).map_err(|_| ChunkError::TooManySamples)?;
    if samples > header.chunk_samples {
        return Err(ChunkError::OverfullChunk { samples, limit: header.chunk_samples });
    }
    let (flagged, flagged_values) = flagged::read(header, chunk, samples)?;
    let others = samples - flagged.len();
    let quantized = stored_latent(header, chunk, others)?;
    let latent_values = header.latent_values(&quantized).ok_or(ChunkError::LatentOutOfRange)?;
    let modelled = others * header.modelled_per_sample;
    let outliers = stored_outliers(chunk, modelled)?;
    let values = match &header.error_bound {
        Some(bound) => {
            let residuals = stored_residuals(header, chunk, modelled)?;
            let relations = header.relations()?;
            // A chunk without a plan (all files of earlier balerc) takes the decoder's prediction.
            let plan = match section_bytes(chunk, SectionName::ResidualPlan).ok().filter(|_| bound.residual_plans) {
                Some(stored) => {
                    residual_plan::ResidualPlan::from_bytes(stored, &residual_plan::PlanLayout::of(header, &relations))?
                }
                None => residual_plan::ResidualPlan::decoder_only(header.feature_count()),
            };
            let values = match table_residuals::applies(header) && outliers.is_sorted_by_key(|&(i, _)| i) {
                true => row_blocks::reconstruct_table(
                    header,
                    bound,
                    &relations,
                    &plan,
                    decoder,
                    &latent_values,
                    &residuals,
                    &outliers,
                )?,
                false => {
                    let prediction = whole_prediction(header, decoder, &latent_values, modelled)?;
                    residual_plan::reconstruct(header, bound, &relations, &plan, &prediction, &residuals, &outliers)?
                }
            };
            recycled::SYMBOLS.give(residuals.into_iter().map(bytes::zigzag).collect());
            values
        }
        None => {
            let prediction = whole_prediction(header, decoder, &latent_values, modelled)?;
            let mut values: Vec<f64> =
                prediction.iter().enumerate().map(|(i, &v)| header.store(header.modelled_column(i), v)).collect();
            for &(i, exact) in &outliers {
                values[i] = exact;
            }
            values
        }
    };
    let values = flagged::restore(values, header.modelled_per_sample, &flagged, &flagged_values);
    let lossless = bytes::decode_f64s(optional_section_bytes(chunk, SectionName::Lossless))?;
    Ok(header.assemble(samples, values, &lossless)?)
}

/// The decoder's prediction of a whole chunk, which must give `modelled` values.
fn whole_prediction(
    header: &Header,
    decoder: &Decoder,
    latent: &[f64],
    modelled: usize,
) -> Result<Vec<f64>, ChunkError> {
    let prediction = predict(header, decoder, latent)?;
    match prediction.len() == modelled {
        true => Ok(prediction),
        false => Err(ChunkError::DecoderOutput),
    }
}

/// The latent codes of a file written with a hardware encoder, samples one after another: what
/// the FPGA emitted, for comparing against the hardware itself. Samples stored in full have none.
pub fn hardware_latent_codes(path: &Path) -> Result<Vec<i64>, CodecError> {
    let mut reader = Reader::open(path)?;
    let header = read_header(&reader, path)?;
    if header.hardware.is_none() {
        return Err(CodecError::NoHardwareCodes { path: path.to_path_buf() });
    }
    let mut codes = vec![];
    for index in 0..reader.chunk_count() {
        let chunk = reader.read_chunk(index)?;
        let samples = chunk.samples as usize;
        let q = stored_latent(&header, &chunk, samples - flagged::read(&header, &chunk, samples)?.0.len())?;
        codes.extend(latent::hardware_codes(&q, header.latent_width).ok_or(ChunkError::LatentOutOfRange)?);
    }
    Ok(codes)
}

/// The form of the data a file was compressed from, which decompression writes back by default.
pub fn original_format(path: &Path) -> Result<dataset::FileFormat, CodecError> {
    let reader = Reader::open(path)?;
    Ok(read_header(&reader, path)?.format)
}

/// The header of an open file, an error naming the file when it does not read.
fn read_header(reader: &Reader, path: &Path) -> Result<Header, CodecError> {
    Header::from_json(reader.header()).map_err(|source| CodecError::StoredHeader { path: path.to_path_buf(), source })
}

/// `balerc info`: what a file holds, where its bytes go, and what it promises.
pub fn describe(path: &Path) -> Result<String, CodecError> {
    use std::fmt::Write;
    let mut reader = Reader::open(path)?;
    let header = read_header(&reader, path)?;
    let sizes = reader.sizes();
    let original = header.raw_bytes();
    let mut out = String::new();
    let _ = writeln!(out, "{}: balerc compressed data", path.display());
    let _ = writeln!(
        out,
        "  original      {:?} {:?} from {:?}, {} columns named",
        header.shape,
        header.dtype,
        header.format,
        header.names.len()
    );
    if !header.column_dtypes.is_empty() {
        let typed: Vec<String> = (0..header.column_dtypes.len())
            .map(|c| format!("{} {:?}", header.names.get(c).map_or("?", String::as_str), header.column_dtype(c)))
            .collect();
        let _ = writeln!(out, "  column types  {}", typed.join(", "));
    }
    let model = match (embeds_decoder(&reader), recorded_model_dir(&mut reader)) {
        (true, _) => "decoder embedded".to_string(),
        (false, Some(dir)) => format!("not embedded: compressed with {}, where decompress looks for it", dir.display()),
        (false, None) => "not embedded: decompress with --model".to_string(),
    };
    let _ = writeln!(out, "  model         sha256 {} ({model})", header.model_hash);
    let _ =
        writeln!(out, "  latent        {} values per sample, {} bits each", header.latent_width, header.latent_bits);
    if let Some(h) = &header.hardware {
        let _ = writeln!(
            out,
            "  encoder       hardware: {} -> {}, the bit-exact codes of the quantized encoder ({}, sha256 {})",
            h.input_type, h.latent_type, h.origin, h.encoder_hash
        );
    }
    if let Some(count) = flagged::count(&header, &sizes) {
        let share = 100.0 * count as f64 / reader.samples().max(1) as f64;
        let threshold = header.outlier_samples.as_ref().map_or(f64::NAN, |o| o.log_density_threshold);
        let _ = writeln!(
            out,
            "  outliers      {count} samples ({share:.3}%) stored in full: latent log density below {threshold:.4}"
        );
    }
    let _ = writeln!(
        out,
        "  lossless      columns {:?}; integer columns {:?}",
        header.lossless_columns, header.integer_columns
    );
    match &header.error_bound {
        Some(b) => {
            let _ = writeln!(out, "  error bound   |error| <= {}", bounds_in_words(&header, &b.max_abs_error));
        }
        None => {
            let _ = writeln!(out, "  error bound   none (lossy: the autoencoder's reconstruction)");
        }
    }
    let _ = writeln!(
        out,
        "  chunks        {} of up to {} samples, {} samples",
        reader.chunk_count(),
        header.chunk_samples,
        reader.samples()
    );
    let _ = writeln!(
        out,
        "  bytes         {} in the file ({} header, {} framing)",
        sizes.file, sizes.header, sizes.framing
    );
    for (name, totals) in sizes.sections.iter().chain(&sizes.attachments) {
        let _ = writeln!(out, "    {name:<14} {:>12} stored {:>12} raw", totals.stored, totals.raw);
    }
    let _ = writeln!(
        out,
        "  ratio         {:.2} against {original} bytes of raw values",
        original as f64 / sizes.file.max(1) as f64
    );
    Ok(out)
}

/// Each feature's bound, or for many features the smallest and the largest with their columns.
fn bounds_in_words(header: &Header, bounds: &[f64]) -> String {
    let named = |f: usize| {
        let column = header.is_table().then(|| header.modelled_columns.get(f)).flatten();
        column.and_then(|&c| header.names.get(c)).map_or_else(|| format!("feature {f}"), String::clone)
    };
    match bounds {
        [one] => four_significant(*one),
        few if few.len() <= 4 => few
            .iter()
            .enumerate()
            .map(|(f, &b)| format!("{} ({})", four_significant(b), named(f)))
            .collect::<Vec<_>>()
            .join(", "),
        many => {
            let by_size = |a: &(usize, &f64), b: &(usize, &f64)| a.1.total_cmp(b.1);
            let (low, lowest) = many.iter().enumerate().min_by(by_size).expect("several bounds");
            let (high, highest) = many.iter().enumerate().max_by(by_size).expect("several bounds");
            format!(
                "{} ({}) to {} ({}), per column of {}; --json lists each",
                four_significant(*lowest),
                named(low),
                four_significant(*highest),
                named(high),
                many.len()
            )
        }
    }
}

/// `balerc info --json`: what [`describe`] says, for programs.
pub fn describe_json(path: &Path) -> Result<serde_json::Value, CodecError> {
    let mut reader = Reader::open(path)?;
    let header = read_header(&reader, path)?;
    let sizes = reader.sizes();
    let original = header.raw_bytes();
    let totals = |of: &std::collections::BTreeMap<String, crate::container::ByteTotals>| -> serde_json::Value {
        of.iter().map(|(name, t)| (name.clone(), serde_json::json!({"stored": t.stored, "raw": t.raw}))).collect()
    };
    Ok(serde_json::json!({
        "file": path.display().to_string(),
        "original": {
            "shape": header.shape, "dtype": header.dtype, "format": header.format, "names": header.names,
            "column_dtypes": header.column_dtypes,
        },
        "model": {
            "sha256": header.model_hash,
            "embedded": embeds_decoder(&reader),
            "compressed_with": recorded_model_dir(&mut reader),
        },
        "latent": {"values_per_sample": header.latent_width, "bits": header.latent_bits},
        "hardware_encoder": header.hardware,
        "lossless_columns": header.lossless_columns,
        "integer_columns": header.integer_columns,
        "max_abs_error": header.error_bound.as_ref().map(|b| &b.max_abs_error),
        "chunks": reader.chunk_count(),
        "chunk_samples": header.chunk_samples,
        "samples": reader.samples(),
        "bytes": {
            "file": sizes.file,
            "header": sizes.header,
            "framing": sizes.framing,
            "sections": totals(&sizes.sections),
            "attachments": totals(&sizes.attachments),
        },
        "ratio": original as f64 / sizes.file.max(1) as f64,
    }))
}

/// What the ratio is measured against: the user's file, or for an object inside an HDF5 or
/// ROOT file (which may hold much else, and ROOT compresses its baskets) its values as stored.
fn original_bytes(header: &Header, input: &Path) -> u64 {
    match header.format {
        dataset::FileFormat::Hdf5 | dataset::FileFormat::Root => header.raw_bytes(),
        _ => std::fs::metadata(input).map_or(0, |m| m.len()),
    }
}

/// Samples per chunk: at most `CHUNK_VALUES` values each. Data that take more than one chunk
/// are cut into an even number of chunks of equal size, so that two threads share the work
/// evenly (three chunks keep one of two threads idle for a third of the time), whatever the
/// number of threads: the file does not depend on it.
pub(crate) fn chunk_samples_for(values_per_sample: usize, samples: usize) -> usize {
    let most = (CHUNK_VALUES / values_per_sample.max(1)).max(1);
    let chunks = samples.div_ceil(most);
    match chunks <= 1 {
        true => most,
        false => samples.div_ceil(chunks + chunks % 2),
    }
}

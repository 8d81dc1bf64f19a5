//! Streaming compression, in chunks on all cores, produces exactly the chunks and the
//! reconstruction that processing the whole file in memory does, in every input format.

use super::*;
use crate::container::Reader;
use balerc_io::dataset::FileFormat;

const JETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/jets_pythia_24col.npz");
/// A small model trained on the first 2000 jets (see tests/fixtures/README.md).
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jets_model");

/// The fixture model, and 3000 jets after those it was trained on as the data to compress.
/// With a fresh directory for the files a test writes.
fn trained() -> Option<(tempfile::TempDir, PathBuf, Dataset)> {
    let Ok(jets) = dataset::read(Path::new(JETS)) else {
        eprintln!("skipping: {JETS} is not here");
        return None;
    };
    Some((tempfile::tempdir().unwrap(), PathBuf::from(MODEL), jets.slice_samples(2000, 5000)))
}

fn options(model: &Path, input: &Path, output: &Path, bound: Option<ErrorBound>) -> CompressOptions {
    CompressOptions {
        model: model.into(),
        input: input.into(),
        output: output.into(),
        latent_bits: LatentBits::Fixed(12),
        bound,
        embed_model: Embedding::Never,
        encoder: EncoderChoice::Float,
        chunk_samples: Some(700),
        relations: vec![],
        columns: vec![],
        outliers: OutlierChoice::None,
    }
}

/// What compression did before it streamed: the whole file in memory, then chunk by chunk.
fn in_memory(options: &CompressOptions) -> (Header, Vec<Chunk>, ArrayD<f64>) {
    let info = model_files::load_layout(&options.model).unwrap();
    let data = dataset::read(&options.input).unwrap();
    let decoder_bytes = std::fs::read(options.model.join(DECODER_ONNX)).unwrap();
    let header = Header::new(&info, &data.layout(), &decoder_bytes, None, options, |header: &Header| {
        let mut ranges = header.empty_ranges();
        header.widen_ranges(&data, &mut ranges);
        Ok::<_, CodecError>(ranges)
    })
    .unwrap();
    let encoder = LatentEncoder::open(&EncoderChoice::Float, &options.model).unwrap();
    let decoder = Decoder::Float(program(&options.model.join(DECODER_ONNX)).unwrap());
    let (mut chunks, mut restored) = (vec![], vec![]);
    for start in (0..data.samples()).step_by(header.chunk_samples) {
        let end = (start + header.chunk_samples).min(data.samples());
        let (chunk, _) = compress_chunk(&header, &encoder, &decoder, None, &data.slice_samples(start, end)).unwrap();
        restored.push(decompress_chunk(&header, &decoder, &chunk).unwrap());
        chunks.push(chunk);
    }
    let views: Vec<_> = restored.iter().map(|a| a.view()).collect();
    (header, chunks, ndarray::concatenate(Axis(0), &views).unwrap())
}

#[test]
fn streaming_matches_the_whole_file_in_memory_for_every_format_and_bound() {
    let Some((dir, model, unseen)) = trained() else { return };
    let bounds = [None, Some(ErrorBound::Absolute(0.05)), Some(ErrorBound::RelativeToRange(1e-3))];
    for format in ["npy", "npz", "csv"] {
        let input = dir.path().join(format!("unseen.{format}"));
        let format_of = FileFormat::from_path(&input).unwrap();
        dataset::write(&input, &Dataset { format: format_of, ..unseen.clone() }).unwrap();
        for bound in bounds {
            let packed = dir.path().join("x.baler");
            let options = options(&model, &input, &packed, bound);
            compress(&options).unwrap();
            let (header, chunks, restored) = in_memory(&options);

            let mut reader = Reader::open(&packed).unwrap();
            assert_eq!(Header::from_json(reader.header()).unwrap(), header, "{format} {bound:?}");
            let streamed: Vec<Chunk> = reader.chunks().collect::<Result<_, _>>().unwrap();
            assert_eq!(streamed.len(), 5, "3000 samples in chunks of 700");
            assert!(streamed == chunks, "{format} {bound:?}: the chunks differ");

            let output = dir.path().join(format!("restored.{format}"));
            let decompress_options = DecompressOptions {
                input: packed,
                output: output.clone(),
                model: Some(model.clone()),
                decoder_precision: None,
            };
            decompress(&decompress_options).unwrap();
            let back = dataset::read(&output).unwrap();
            assert_eq!(back.values, restored, "{format} {bound:?}");
            assert_eq!((back.names, back.dtype), (header.names.clone(), header.dtype));
        }
    }
}

#[test]
fn a_nan_in_a_later_chunk_or_a_cut_file_stops_compression_with_nothing_written() {
    let Some((dir, model, mut unseen)) = trained() else { return };
    unseen.values[[2500, 3]] = f64::NAN;
    let column = unseen.names[3].clone();
    let input = dir.path().join("nan.npy");
    dataset::write(&input, &Dataset { format: FileFormat::Npy, names: vec![], ..unseen.clone() }).unwrap();
    let packed = dir.path().join("x.baler");
    for bound in [None, Some(ErrorBound::RelativeToRange(1e-3))] {
        let error = compress(&options(&model, &input, &packed, bound)).unwrap_err().to_string();
        assert_eq!(error, format!("{}: row 2500, column 3 is NaN", input.display()));
        assert!(!packed.exists());
    }
    let input = dir.path().join("nan.npz");
    dataset::write(&input, &unseen).unwrap();
    let error = compress(&options(&model, &input, &packed, None)).unwrap_err().to_string();
    assert!(error.ends_with(&format!("row 2500, column '{column}' is NaN")), "{error}");

    unseen.values[[2500, 3]] = 1.0;
    let input = dir.path().join("cut.npy");
    dataset::write(&input, &Dataset { format: FileFormat::Npy, names: vec![], ..unseen.clone() }).unwrap();
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() - 1000]).unwrap();
    let error = compress(&options(&model, &input, &packed, None)).unwrap_err().to_string();
    assert!(error.starts_with(&input.display().to_string()) && error.contains("truncated"), "{error}");

    let input = dir.path().join("cut.npz");
    dataset::write(&input, &unseen).unwrap();
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() - 1000]).unwrap();
    let error = compress(&options(&model, &input, &packed, None)).unwrap_err().to_string();
    assert!(error.contains("cut.npz: is not a readable .npz file"), "{error}");
    assert!(!packed.exists());
}

#[test]
fn a_chunk_without_its_latent_codes_names_the_missing_section() {
    let Some((dir, model, unseen)) = trained() else { return };
    let input = dir.path().join("jets.npz");
    dataset::write(&input, &unseen.slice_samples(0, 700)).unwrap();
    let (header, mut chunks, _) = in_memory(&options(&model, &input, &dir.path().join("x.baler"), None));
    let decoder = Decoder::Float(program(&model.join(DECODER_ONNX)).unwrap());
    let chunk = &mut chunks[0];
    chunk.sections.retain(|s| s.name != SectionName::LatentCodes.as_str());
    let error = decompress_chunk(&header, &decoder, chunk).unwrap_err();
    assert!(matches!(error, ChunkError::MissingSection(SectionName::LatentPlanes)), "{error:?}");
    assert_eq!(error.to_string(), "the section 'latent' is missing");
}

#[test]
fn data_beyond_one_chunk_are_cut_into_an_even_number_of_equal_chunks() {
    let per_sample = 24;
    let most = CHUNK_VALUES / per_sample;
    // One chunk's worth or less: chunks as large as they may be, as before.
    assert_eq!(chunk_samples_for(per_sample, 10), most);
    assert_eq!(chunk_samples_for(per_sample, most), most);
    for samples in [most + 1, 2 * most, 2 * most + 5, 119_521, 5 * most - 3, 40 * most + 7] {
        let size = chunk_samples_for(per_sample, samples);
        let chunks = samples.div_ceil(size);
        assert!(size <= most, "{samples} samples: chunks of {size}");
        assert_eq!(chunks % 2, 0, "{samples} samples: {chunks} chunks of {size}");
        // Equal but for the last, which is short by less than one sample per chunk.
        assert!(chunks * size - samples < chunks, "{samples} samples: {chunks} chunks of {size}");
    }
}

#[test]
fn a_table_chunk_decoded_in_blocks_of_rows_equals_it_decoded_whole() {
    let Some((dir, model, _)) = trained() else { return };
    let jets = dataset::read(Path::new(JETS)).unwrap();
    let rows = 2 * row_blocks::BLOCK_ROWS + 1000;
    let input = dir.path().join("jets.npz");
    dataset::write(&input, &jets.slice_samples(2000, 2000 + rows)).unwrap();
    let bound = Some(ErrorBound::RelativeToRange(1e-3));
    let options =
        CompressOptions { chunk_samples: Some(rows), ..options(&model, &input, &dir.path().join("x.baler"), bound) };
    let (header, chunks, _) = in_memory(&options);
    let [chunk] = chunks.as_slice() else { panic!("one chunk of {rows} rows") };
    let decoder = Decoder::Float(program(&model.join(DECODER_ONNX)).unwrap());
    let coding = header.error_bound.as_ref().unwrap();
    let plan_bytes = section_bytes(chunk, SectionName::ResidualPlan).unwrap();
    let plan =
        residual_plan::ResidualPlan::from_bytes(plan_bytes, &residual_plan::PlanLayout::of(&header, &[])).unwrap();
    let latent_values = header.latent_values(&stored_latent(&header, chunk, rows).unwrap()).unwrap();
    let codes = stored_residuals(&header, chunk, rows * 24).unwrap();
    // Exact values in the first block, on both sides of a block's edge and in the last.
    let edge = row_blocks::BLOCK_ROWS * 24;
    let outliers = [(3, 1.5), (edge - 1, -2.0), (edge, 7.0), (edge, 8.0), (2 * edge + 5, 0.25), (rows * 24 - 1, 9.0)];
    let whole_prediction = predict(&header, &decoder, &latent_values).unwrap();
    let whole = residual_plan::reconstruct(&header, coding, &[], &plan, &whole_prediction, &codes, &outliers).unwrap();
    let blocks =
        row_blocks::reconstruct_table(&header, coding, &[], &plan, &decoder, &latent_values, &codes, &outliers)
            .unwrap();
    let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&blocks), bits(&whole));
    assert_eq!((blocks[3], blocks[edge], blocks[rows * 24 - 1]), (1.5, 8.0, 9.0));
}

#[test]
fn a_table_chunk_coded_in_blocks_of_rows_keeps_its_bound_and_finds_outliers_in_every_block() {
    let Some((dir, model, _)) = trained() else { return };
    let jets = dataset::read(Path::new(JETS)).unwrap();
    let rows = 5 * row_blocks::BLOCK_ROWS + 700;
    let input = dir.path().join("jets.npz");
    dataset::write(&input, &jets.slice_samples(2000, 2000 + rows)).unwrap();
    let options = CompressOptions {
        chunk_samples: Some(rows),
        ..options(&model, &input, &dir.path().join("x.baler"), Some(ErrorBound::RelativeToRange(1e-3)))
    };
    let (header, chunks, _) = in_memory(&options);
    let decoder = Decoder::Float(program(&model.join(DECODER_ONNX)).unwrap());
    let latent_values = header.latent_values(&stored_latent(&header, &chunks[0], rows).unwrap()).unwrap();
    let mut original = modelled_values(&header, &dataset::read(&input).unwrap()).into_owned();
    // Values no code reaches, in the trial rows and in later blocks, on both sides of an edge.
    let edge = (residual_plan::plan_trial_end(&header, original.len()).div_ceil(24) + row_blocks::BLOCK_ROWS) * 24;
    let far = [5, edge - 1, edge + 2, original.len() - 1];
    for &i in &far {
        original[i] = 1e30;
    }
    let coding = header.error_bound.as_ref().unwrap();
    let trial_end = residual_plan::plan_trial_end(&header, original.len());
    let predict_rows = row_blocks::decoder_prediction(&header, &decoder, &latent_values);
    let (plan, codes, outliers) =
        row_blocks::code_table(&header, coding, &[], &original, trial_end, predict_rows).unwrap();
    let indices: Vec<usize> = outliers.iter().map(|&(i, _)| i as usize).collect();
    assert!(far.iter().all(|i| indices.contains(i)), "{indices:?}");
    assert!(indices.is_sorted());
    let outliers: Vec<(usize, f64)> = outliers.iter().map(|&(i, v)| (i as usize, v)).collect();
    let prediction = predict(&header, &decoder, &latent_values).unwrap();
    let back = residual_plan::reconstruct(&header, coding, &[], &plan, &prediction, &codes, &outliers).unwrap();
    for (i, (&x, &y)) in original.iter().zip(&back).enumerate() {
        assert!((x - y).abs() <= coding.max_abs_error[i % 24], "value {i}: {x} came back as {y}");
    }
}

//! Reading and writing a chunk at a time gives exactly what reading and writing whole does,
//! in every format and layout, and damage or a NaN is named by where it is in the file.

use super::*;
use ndarray::{array, s, ArrayD};
use std::io::Write;

fn dataset(values: ArrayD<f64>, names: &[&str], dtype: StoredDtype, format: FileFormat) -> Dataset {
    Dataset { values, names: names.iter().map(|n| n.to_string()).collect(), dtype, format }
}

/// 23 rows of 3 columns, so that chunks of 5 leave a short last one.
fn table(format: FileFormat) -> Dataset {
    let values = ArrayD::from_shape_fn(IxDyn(&[23, 3]), |i| (i[0] * 3 + i[1]) as f64 * 0.5 - 7.0);
    dataset(values, &["pt", "eta", "phi"], StoredDtype::F32, format)
}

fn chunked(path: &Path, samples: usize) -> Vec<Dataset> {
    SampleReader::open(path).unwrap().chunks(samples).collect::<Result<_, _>>().unwrap()
}

fn assert_chunks_make_the_whole(path: &Path, whole: &Dataset) {
    let chunks = chunked(path, 5);
    assert_eq!(chunks.iter().map(Dataset::samples).collect::<Vec<_>>(), [5, 5, 5, 5, 3]);
    let views: Vec<_> = chunks.iter().map(|c| c.values.view()).collect();
    assert_eq!(ndarray::concatenate(Axis(0), &views).unwrap(), whole.values, "{}", path.display());
    assert!(chunks.iter().all(|c| (&c.names, c.dtype, c.format) == (&whole.names, whole.dtype, whole.format)));
}

/// A `.npy` file made by hand, for layouts balerc never writes itself.
fn handmade_npy(descr: &str, fortran_order: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
    let order = if fortran_order { "True" } else { "False" };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}\n");
    let mut bytes = NPY_MAGIC.to_vec();
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn npz_of(path: &Path, method: zip::CompressionMethod, entries: &[(&str, Vec<u8>)]) {
    let mut archive = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (key, bytes) in entries {
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        archive.start_file(format!("{key}.npy"), options).unwrap();
        archive.write_all(bytes).unwrap();
    }
    archive.finish().unwrap();
}

#[test]
fn chunks_of_every_format_make_up_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("t.npy", FileFormat::Npy), ("t.npz", FileFormat::Npz), ("t.csv", FileFormat::Csv)] {
        let path = dir.path().join(name);
        write(&path, &table(format)).unwrap();
        let whole = read(&path).unwrap();
        assert_eq!(whole.values.shape(), [23, 3]);
        assert_chunks_make_the_whole(&path, &whole);
    }
}

#[test]
fn deflated_npz_and_fortran_order_stream_too() {
    let dir = tempfile::tempdir().unwrap();
    // A stack of 7 fields of 2x3, stored Fortran-order (first axis fastest) as big-endian i32.
    let c_order = ArrayD::from_shape_fn(IxDyn(&[23, 2, 3]), |i| (i[0] * 100 + i[1] * 10 + i[2]) as f64);
    let fortran: Vec<u8> = c_order.t().iter().flat_map(|&v| (v as i32).to_be_bytes()).collect();
    let npy = handmade_npy(">i4", true, "(23, 2, 3)", &fortran);
    let expected = dataset(c_order.clone(), &[], StoredDtype::I32, FileFormat::Npy);

    let path = dir.path().join("fortran.npy");
    std::fs::write(&path, &npy).unwrap();
    assert_chunks_make_the_whole(&path, &expected);

    let expected = Dataset { format: FileFormat::Npz, ..expected };
    for method in [zip::CompressionMethod::Stored, zip::CompressionMethod::Deflated] {
        let path = dir.path().join(format!("fortran_{method}.npz"));
        npz_of(&path, method, &[("data", npy.clone())]);
        assert_chunks_make_the_whole(&path, &expected);
    }

    // numpy.savez_compressed: C order, deflated, with names.
    let mut source = table(FileFormat::Npy);
    source.names.clear();
    let plain = dir.path().join("plain.npy");
    write(&plain, &source).unwrap();
    let names: Vec<u8> = "pt\0\0eta\0phi\0".chars().flat_map(|c| u32::from(c).to_le_bytes()).collect();
    let names = handmade_npy("<U4", false, "(3,)", &names[..]);
    let path = dir.path().join("compressed.npz");
    npz_of(&path, zip::CompressionMethod::Deflated, &[("names", names), ("data", std::fs::read(&plain).unwrap())]);
    let whole = read(&path).unwrap();
    assert_eq!((whole.names.join(","), &whole.values), ("pt,eta,phi".to_string(), &source.values));
    assert_chunks_make_the_whole(&path, &whole);
}

#[test]
fn a_nan_in_a_later_chunk_is_named_by_its_row_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = table(FileFormat::Npz);
    data.values[[17, 1]] = f64::NAN;
    let path = dir.path().join("nan.npz");
    write(&path, &data).unwrap();
    let mut chunks = SampleReader::open(&path).unwrap().require_finite().chunks(5);
    for _ in 0..3 {
        chunks.next().unwrap().unwrap();
    }
    let error = chunks.next().unwrap().unwrap_err().to_string();
    assert_eq!(error, format!("{}: row 17, column 'eta' is NaN", path.display()));
    assert!(chunks.next().is_none(), "reading stops at the error");
}

#[test]
fn truncated_and_damaged_inputs_are_named_before_or_while_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.npy");
    write(&path, &table(FileFormat::Npy)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let error = SampleReader::open(&path).err().unwrap().to_string();
    assert!(error.starts_with(&path.display().to_string()) && error.contains("is truncated: shape (23, 3)"), "{error}");

    // A deflated entry whose bytes are damaged: the checksum catches it by the last chunk.
    let npz = dir.path().join("damaged.npz");
    npz_of(&npz, zip::CompressionMethod::Deflated, &[("data", bytes.clone())]);
    let mut archive = std::fs::read(&npz).unwrap();
    let at = archive.len() / 3;
    archive[at] ^= 0x01;
    std::fs::write(&npz, &archive).unwrap();
    let error = match SampleReader::open(&npz) {
        Ok(reader) => reader.chunks(5).find_map(Result::err).expect("an error").to_string(),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("damaged.npz: array 'data'"), "{error}");

    // Cut short, the archive's directory is gone.
    std::fs::write(&npz, &archive[..archive.len() / 2]).unwrap();
    let error = SampleReader::open(&npz).err().unwrap().to_string();
    assert!(error.contains("damaged.npz: is not a readable .npz file"), "{error}");
}

#[test]
fn writing_in_chunks_gives_the_same_bytes_as_writing_whole() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [("w.npy", FileFormat::Npy), ("w.npz", FileFormat::Npz), ("w.csv", FileFormat::Csv)] {
        let data = table(format);
        let whole = dir.path().join(format!("whole_{name}"));
        write(&whole, &data).unwrap();
        let path = dir.path().join(name);
        let mut writer = SampleWriter::create(&path, &data.layout()).unwrap();
        for start in (0..23).step_by(5) {
            writer.write(&data.values.slice(s![start..(start + 5).min(23), ..]).to_owned().into_dyn()).unwrap();
        }
        assert!(!path.exists(), "nothing at the path before the end");
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&whole).unwrap(), "{name}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }
}

#[test]
fn an_unfinished_or_misfit_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = table(FileFormat::Npz);
    let path = dir.path().join("partial.npz");
    let mut writer = SampleWriter::create(&path, &data.layout()).unwrap();
    writer.write(&data.slice_samples(0, 10).values).unwrap();
    let error = writer.write(&array![[1.0, 2.0]].into_dyn()).unwrap_err().to_string();
    assert!(error.contains("partial.npz") && error.contains("do not fit"), "{error}");
    let error = writer.finish().unwrap_err().to_string();
    assert!(error.contains("only 10 of its 23 samples were written"), "{error}");
    drop(SampleWriter::create(&path, &data.layout()).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file and no temporary left");
}

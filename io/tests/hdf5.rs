//! HDF5 in and out: h5py's files read by `FILE:OBJECT` or by their only candidate, as one
//! array (names from its `names` attribute), a dataset of records or a group of columns in
//! their own types, in chunks; written back in those types; what is ambiguous or missing
//! refused by name.

use balerc_io::dataset::{FileFormat, SampleReader, SampleWriter, StoredDtype};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn named(file: &str, object: &str) -> PathBuf {
    PathBuf::from(format!("{}:{object}", fixture(file).display()))
}

fn values(path: &Path, chunk: usize) -> Vec<f64> {
    SampleReader::open(path).unwrap().chunks(chunk).flat_map(|c| c.unwrap().values.into_iter()).collect()
}

#[test]
fn a_2d_dataset_is_a_table_named_by_its_attribute_whether_named_or_found() {
    let expected: Vec<f64> =
        (0..100).flat_map(|i| [i as f64 * 0.5 + 1.0, (i % 17) as f64 * 0.125 - 1.0, i as f64 * 0.25]).collect();
    for path in [named("table.h5", "/events/jets"), named("table.h5", "events/jets"), fixture("table.h5")] {
        let reader = SampleReader::open(&path).unwrap();
        let layout = reader.layout();
        assert_eq!(
            (layout.shape.as_slice(), layout.dtype, layout.format),
            (&[100, 3][..], StoredDtype::F32, FileFormat::Hdf5)
        );
        assert_eq!(layout.names, ["pt", "eta", "phi"]);
        assert_eq!(values(&path, 30), expected, "{}", path.display());
    }
}

#[test]
fn a_dataset_of_records_is_a_table_of_its_numeric_fields_in_their_own_types() {
    let expected = |i: usize| {
        [
            i as f64 * 0.5 + 1.0,
            ((i * 7) % 300) as f64,
            f64::from(u8::from(i.is_multiple_of(5))),
            (i % 17) as f64 * 0.125 - 1.0,
        ]
    };
    let wanted: Vec<String> = ["pt", "n", "is_b", "eta"].map(String::from).to_vec();
    for path in [named("records.h5", "/events"), fixture("records.h5")] {
        let reader = SampleReader::open_columns(&path, &wanted).unwrap();
        let layout = reader.layout().clone();
        assert_eq!((layout.shape.as_slice(), layout.format), (&[100, 4][..], FileFormat::Hdf5));
        assert_eq!(layout.names, wanted);
        assert_eq!(layout.column_dtypes, [StoredDtype::F32, StoredDtype::I16, StoredDtype::Bool, StoredDtype::F64]);
        let read: Vec<f64> = reader.chunks(30).flat_map(|c| c.unwrap().values.into_iter()).collect();
        assert_eq!(read, (0..100).flat_map(expected).collect::<Vec<_>>(), "{}", path.display());
    }
    // Fields in another order, or one alone.
    let eta_first = SampleReader::open_columns(&fixture("records.h5"), &["eta".into(), "pt".into()]).unwrap();
    let values = eta_first.read_all().unwrap().values;
    assert_eq!((values[[3, 0]], values[[3, 1]]), (-0.625, 2.5));

    // The string field is refused by name unless left out.
    let error = SampleReader::open(&fixture("records.h5")).err().expect("a field of strings").to_string();
    assert!(error.contains("field 'tag' of dataset '/events' holds") && error.contains("--columns"), "{error}");
}

#[test]
fn a_group_of_columns_keeps_each_column_s_type_and_comes_back_in_it() {
    let path = named("columns.h5", "/events");
    let layout = SampleReader::open(&path).unwrap().layout().clone();
    assert_eq!(layout.names, ["is_b", "n", "pt"]);
    assert_eq!(layout.column_dtypes, [StoredDtype::Bool, StoredDtype::I16, StoredDtype::F64]);
    let expected: Vec<f64> = (0..100)
        .flat_map(|i| [f64::from(u8::from(i % 5 == 0)), ((i * 7) % 300) as f64, i as f64 * 0.5 + 1.0])
        .collect();
    assert_eq!(values(&path, 40), expected);

    let dir = tempfile::tempdir().unwrap();
    let out = PathBuf::from(format!("{}:/restored", dir.path().join("back.h5").display()));
    let mut writer = SampleWriter::create(&out, &layout).unwrap();
    for chunk in SampleReader::open(&path).unwrap().chunks(64) {
        writer.write(&chunk.unwrap().values).unwrap();
    }
    writer.finish().unwrap();
    let back = SampleReader::open(&out).unwrap();
    assert_eq!(back.layout().column_dtypes, layout.column_dtypes);
    assert_eq!(values(&out, 100), expected);
}

#[test]
fn fields_are_written_as_one_array_in_chunks() {
    let path = fixture("frames.h5");
    let layout = SampleReader::open(&path).unwrap().layout().clone();
    assert_eq!(layout.shape, [4, 5, 6]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frames.h5");
    let mut writer = SampleWriter::create(&out, &layout).unwrap();
    for chunk in SampleReader::open(&path).unwrap().chunks(3) {
        writer.write(&chunk.unwrap().values).unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(values(&named(out.to_str().unwrap(), "data"), 4), values(&path, 4));
    // Nothing is left beside the output.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_ambiguous_file_or_a_missing_object_is_refused_by_name() {
    let error = |path: &Path| SampleReader::open(path).err().expect("an error").to_string();
    let two = error(&fixture("two.h5"));
    assert!(two.contains("/a") && two.contains("/b") && two.contains("FILE:OBJECT"), "{two}");
    let missing = error(&named("two.h5", "/c"));
    assert!(missing.contains("two.h5") && missing.contains("'/c'"), "{missing}");
    let not_hdf5 = error(&fixture("with_null.parquet").with_extension("h5"));
    assert!(not_hdf5.contains("with_null.h5"), "{not_hdf5}");
}

#[test]
fn columns_are_selected_from_a_group_or_from_an_array_by_name() {
    let from_group =
        SampleReader::open_columns(&named("columns.h5", "/events"), &["pt".to_string(), "n".to_string()]).unwrap();
    assert_eq!(from_group.layout().names, ["pt", "n"]);
    assert_eq!(from_group.layout().column_dtypes, [StoredDtype::F64, StoredDtype::I16]);
    let rows: Vec<f64> = (0..100).flat_map(|i| [i as f64 * 0.5 + 1.0, ((i * 7) % 300) as f64]).collect();
    assert_eq!(values_of(from_group), rows);

    let from_array = SampleReader::open_columns(&fixture("table.h5"), &["phi".to_string()]).unwrap();
    assert_eq!((from_array.layout().shape.as_slice(), from_array.layout().dtype), (&[100, 1][..], StoredDtype::F32));
    assert_eq!(values_of(from_array), (0..100).map(|i| i as f64 * 0.25).collect::<Vec<_>>());

    let fields = SampleReader::open_columns(&fixture("frames.h5"), &["0".to_string()]).err().unwrap().to_string();
    assert!(fields.contains("from a table") && fields.contains("(4, 5, 6)"), "{fields}");
}

fn values_of(reader: SampleReader) -> Vec<f64> {
    reader.chunks(33).flat_map(|c| c.unwrap().values.into_iter()).collect()
}

//! Parquet tables in and out: pyarrow's files read with each column's type, in chunks across
//! row groups, written back in the same types, and what balerc cannot read refused by name.

use balerc_io::dataset::{FileFormat, SampleReader, SampleWriter, StoredDtype};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Row `i` of `mixed_types.parquet`, as `make_parquet.py` writes it.
fn expected_row(i: usize) -> [f64; 8] {
    let x = i as f64;
    [
        x * 0.5 + 1.0,
        (i % 17) as f64 * 0.125 - 1.0,
        ((i * 7) % 300) as f64,
        (i % 3) as f64,
        f64::from(u8::from(i.is_multiple_of(5))),
        (i * 1_000_003) as f64,
        (i % 8) as f64 * 0.25,
        (i * 3) as f64,
    ]
}

const TYPES: [StoredDtype; 8] = {
    use StoredDtype::*;
    [F32, F64, I16, U8, Bool, I64, F16, U64]
};

#[test]
fn a_pyarrow_table_is_read_with_each_column_s_type_in_chunks_across_row_groups() {
    let reader = SampleReader::open(&fixture("mixed_types.parquet")).unwrap();
    let layout = reader.layout().clone();
    assert_eq!(layout.shape, [200, 8]);
    assert_eq!(layout.names, ["pt", "eta", "n_constituents", "flag", "is_b", "id", "h", "u"]);
    assert_eq!(layout.format, FileFormat::Parquet);
    assert_eq!(layout.column_dtypes, TYPES);
    let expected: Vec<f64> = (0..200).flat_map(expected_row).collect();
    let whole = reader.read_all().unwrap();
    assert_eq!(whole.values.iter().copied().collect::<Vec<_>>(), expected);

    // Chunks of 50 rows cut across the row groups of 64.
    let chunks: Vec<f64> = SampleReader::open(&fixture("mixed_types.parquet"))
        .unwrap()
        .chunks(50)
        .flat_map(|chunk| chunk.unwrap().values.into_iter())
        .collect();
    assert_eq!(chunks, expected);
}

#[test]
fn a_table_written_as_parquet_reads_back_in_its_own_types() {
    let dir = tempfile::tempdir().unwrap();
    let source = SampleReader::open(&fixture("mixed_types.parquet")).unwrap();
    let layout = source.layout().clone();
    let out = dir.path().join("back.parquet");
    let mut writer = SampleWriter::create(&out, &layout).unwrap();
    // Two row groups of different sizes; integers a little off come back rounded.
    for chunk in source.chunks(120) {
        let mut values = chunk.unwrap().values;
        values.index_axis_mut(ndarray::Axis(1), 2).mapv_inplace(|n| n + 0.3);
        writer.write(&values).unwrap();
    }
    writer.finish().unwrap();
    let back = SampleReader::open(&out).unwrap();
    assert_eq!(back.layout().column_dtypes, TYPES);
    assert_eq!(back.layout().names, layout.names);
    let expected: Vec<f64> = (0..200).flat_map(expected_row).collect();
    assert_eq!(back.read_all().unwrap().values.iter().copied().collect::<Vec<_>>(), expected);
}

#[test]
fn columns_balerc_cannot_read_are_refused_by_name() {
    let error = |name: &str| SampleReader::open(&fixture(name)).and_then(|r| r.read_all()).unwrap_err().to_string();
    let strings = error("with_strings.parquet");
    assert!(strings.contains("'name'") && strings.contains("BYTE_ARRAY"), "{strings}");
    let null = error("with_null.parquet");
    assert!(null.contains("'x'") && null.contains("row 1 is null"), "{null}");
    let damaged = tempfile::tempdir().unwrap();
    let path = damaged.path().join("cut.parquet");
    let bytes = std::fs::read(fixture("mixed_types.parquet")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let cut = SampleReader::open(&path).err().expect("half a file is an error").to_string();
    assert!(cut.contains("cut.parquet") && cut.contains("Parquet"), "{cut}");
}

#[test]
fn selected_columns_come_in_the_order_asked_and_the_others_are_never_read() {
    let wanted = ["x".to_string()];
    let strings = SampleReader::open_columns(&fixture("with_strings.parquet"), &wanted).unwrap();
    assert_eq!((strings.layout().names.as_slice(), strings.layout().dtype), (&["x".to_string()][..], StoredDtype::F64));
    assert_eq!(
        strings.read_all().unwrap().values.iter().copied().collect::<Vec<_>>(),
        (0..200).map(f64::from).collect::<Vec<_>>()
    );

    let wanted: Vec<String> = ["u", "flag", "0"].map(String::from).to_vec();
    let some = SampleReader::open_columns(&fixture("mixed_types.parquet"), &wanted).unwrap();
    assert_eq!(some.layout().names, ["u", "flag", "pt"]);
    assert_eq!(some.layout().column_dtypes, [StoredDtype::U64, StoredDtype::U8, StoredDtype::F32]);
    let expected: Vec<f64> = (0..200)
        .flat_map(|i| {
            let r = expected_row(i);
            [r[7], r[3], r[0]]
        })
        .collect();
    assert_eq!(some.read_all().unwrap().values.iter().copied().collect::<Vec<_>>(), expected);

    let unknown =
        SampleReader::open_columns(&fixture("mixed_types.parquet"), &["energy".to_string()]).err().unwrap().to_string();
    assert!(unknown.contains("'energy'") && unknown.contains("pt, eta"), "{unknown}");
}

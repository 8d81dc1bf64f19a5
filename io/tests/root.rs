//! ROOT TTrees in and out: uproot's files read with each branch's type, in chunks across
//! baskets, written back in the same types and read again, and what balerc cannot read
//! refused by name.

use balerc_io::dataset::{FileFormat, Layout, SampleReader, SampleWriter, StoredDtype};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn with_object(path: &Path, object: &str) -> PathBuf {
    PathBuf::from(format!("{}:{object}", path.display()))
}

const NAMES: [&str; 11] = ["pt", "eta", "n_constituents", "flag", "is_b", "id", "charge", "run", "lumi", "event", "u"];

const TYPES: [StoredDtype; 11] = {
    use StoredDtype::*;
    [F32, F64, I16, U8, Bool, I64, I8, I32, U16, U32, U64]
};

/// Row `i` of `mixed_types.root`, as `make_root.py` writes it.
fn expected_row(i: usize) -> [f64; 11] {
    let x = i as f64;
    [
        x * 0.5 + 1.0,
        (i % 17) as f64 * 0.125 - 1.0,
        ((i * 7) % 300) as f64,
        (i % 3) as f64,
        f64::from(u8::from(i.is_multiple_of(5))),
        (i * 1_000_003) as f64,
        (i % 3) as f64 - 1.0,
        x * 11.0,
        x * 13.0,
        x * 17.0,
        x * 3.0,
    ]
}

fn error_of(result: Result<SampleReader, balerc_io::dataset::DatasetError>) -> String {
    match result {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_uproot_tree_is_read_with_each_branch_s_type_in_chunks_across_baskets() {
    let reader = SampleReader::open(&fixture("mixed_types.root")).unwrap();
    let layout = reader.layout().clone();
    assert_eq!(layout.shape, [200, 11]);
    assert_eq!(layout.names, NAMES);
    assert_eq!(layout.format, FileFormat::Root);
    assert_eq!(layout.column_dtypes, TYPES);
    let expected: Vec<f64> = (0..200).flat_map(expected_row).collect();
    assert_eq!(reader.read_all().unwrap().values.into_iter().collect::<Vec<_>>(), expected);

    // Chunks of 30 rows cut across the baskets of 50, the tree named as FILE:TREE.
    let named = with_object(&fixture("mixed_types.root"), "events");
    let chunks: Vec<f64> =
        SampleReader::open(&named).unwrap().chunks(30).flat_map(|chunk| chunk.unwrap().values.into_iter()).collect();
    assert_eq!(chunks, expected);
}

#[test]
fn a_table_written_as_root_reads_back_in_its_own_types_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let source = SampleReader::open(&fixture("mixed_types.root")).unwrap();
    let layout = source.layout().clone();
    let out = dir.path().join("back.root");
    let mut writer = SampleWriter::create(&with_object(&out, "jets"), &layout).unwrap();
    for chunk in source.chunks(70) {
        let mut values = chunk.unwrap().values;
        // Integers a little off come back rounded, as every format stores them.
        values.index_axis_mut(ndarray::Axis(1), 2).mapv_inplace(|v| v + 0.4);
        writer.write(&values).unwrap();
    }
    assert!(!out.exists(), "the file appears only once it is complete");
    writer.finish().unwrap();

    let back = SampleReader::open(&with_object(&out, "jets")).unwrap();
    assert_eq!(
        (back.layout().names.clone(), back.layout().column_dtypes.clone()),
        (layout.names, layout.column_dtypes)
    );
    let expected: Vec<f64> = (0..200).flat_map(expected_row).collect();
    assert_eq!(back.read_all().unwrap().values.into_iter().collect::<Vec<_>>(), expected);
    // The only tree is found without its name.
    assert_eq!(SampleReader::open(&out).unwrap().layout().shape, [200, 11]);
}

#[test]
fn a_table_of_another_format_is_written_as_root_with_branches_named_by_index_where_it_has_no_names() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout {
        shape: vec![5, 2],
        names: vec![],
        dtype: StoredDtype::F64,
        format: FileFormat::Root,
        column_dtypes: vec![],
    };
    let out = dir.path().join("plain.root");
    let mut writer = SampleWriter::create(&out, &layout).unwrap();
    let values = ndarray::Array2::from_shape_fn((5, 2), |(r, c)| r as f64 * 10.0 + c as f64).into_dyn();
    writer.write(&values).unwrap();
    writer.finish().unwrap();
    let back = SampleReader::open(&with_object(&out, "events")).unwrap();
    assert_eq!(back.layout().names, ["c0", "c1"]);
    assert_eq!(back.read_all().unwrap().values, values);
}

#[test]
fn a_file_of_two_trees_needs_one_named_and_a_missing_one_is_named_with_those_there_are() {
    let path = fixture("two_trees.root");
    let message = error_of(SampleReader::open(&path));
    assert!(message.contains("several trees (jets, muons)") && message.contains("FILE.root:TREE"), "{message}");
    let message = error_of(SampleReader::open(&with_object(&path, "taus")));
    assert!(message.contains("no tree 'taus'; its trees are jets, muons"), "{message}");

    // LZ4 baskets.
    let muons = SampleReader::open(&with_object(&path, "muons")).unwrap().read_all().unwrap();
    assert_eq!(muons.values.shape(), [40, 1]);
    assert_eq!(muons.values.iter().copied().collect::<Vec<_>>(), (0..40).map(|i| i as f64 * 2.0).collect::<Vec<_>>());
    let jets = SampleReader::open_columns(&with_object(&path, "jets"), &["eta".into()]).unwrap();
    assert_eq!(jets.layout().names, ["eta"]);
    assert_eq!(jets.read_all().unwrap().values[[3, 0]], -0.75);
}

#[test]
fn a_jagged_branch_is_refused_by_name_unless_left_out() {
    let path = fixture("jagged.root");
    let message = error_of(SampleReader::open(&path));
    assert!(message.contains("branch 'Jet_pt' of tree 'events' is jagged (float[]"), "{message}");
    assert!(message.contains("--columns"), "{message}");
    let flat = SampleReader::open_columns(&path, &["MET".into(), "nJet".into()]).unwrap();
    assert_eq!(flat.layout().column_dtypes, [StoredDtype::F32, StoredDtype::I32]);
    let values = flat.read_all().unwrap().values;
    assert_eq!(values.shape(), [200, 2]);
    assert_eq!((values[[7, 0]], values[[7, 1]]), (7.0 * 0.75, 3.0));
}

#[test]
fn an_rntuple_and_a_file_that_is_not_root_are_refused_with_the_reason() {
    let message = error_of(SampleReader::open(&fixture("rntuple.root")));
    assert!(message.contains("'events' as an RNTuple") && message.contains("TTree"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.root");
    std::fs::write(&fake, b"not a ROOT file at all, just some bytes").unwrap();
    let message = error_of(SampleReader::open(&fake));
    assert!(message.contains("fake.root") && message.contains("not a readable ROOT file"), "{message}");
}

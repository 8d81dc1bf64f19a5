//! The `balerc` binary as a user runs it: outputs, shapes, and one clear error with a
//! non-zero exit for bad input, never a half-written file.

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compiler/tests/fixtures").join(name)
}

fn balerc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_balerc")).args(args).output().unwrap()
}

/// balerc run from `dir`, as a user in that folder would.
fn balerc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_balerc")).args(args).current_dir(dir).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read<T: ndarray_npy::ReadableElement>(path: &Path) -> ArrayD<T> {
    ArrayD::<T>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn simulate_writes_values_codes_and_floats_in_the_output_shape() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("conv2d_ae_ts17.onnx");
    let input = fixture("conv2d_ae_ts17.input.npy");
    let values = dir.path().join("y.npy");
    let codes = dir.path().join("codes.npy");
    let float = dir.path().join("float.npy");
    for (out, extra) in [(&values, None), (&codes, Some("--raw")), (&float, Some("--float"))] {
        let mut args =
            vec!["simulate", s(&model), "--input", s(&input), "--output", s(out), "--precision", "ap_fixed<18,8>"];
        args.extend(extra);
        let run = balerc(&args);
        assert!(run.status.success(), "{}", text(&run.stderr));
    }
    let y = read::<f32>(&values);
    let c = read::<i64>(&codes);
    assert_eq!(y.shape(), &[64, 1, 16, 16]);
    assert_eq!(c.shape(), &[64, 1, 16, 16]);
    // ap_fixed<18,8> has 10 fractional bits: values are codes / 1024.
    for (v, k) in y.iter().zip(c.iter()) {
        assert_eq!(*v as f64, *k as f64 / 1024.0);
    }
    let f = read::<f32>(&float);
    let ort = read::<f32>(&fixture("conv2d_ae_ts17.ort.npy"));
    assert!(f.iter().zip(ort.iter()).all(|(a, b)| (a - b).abs() < 1e-5));
}

#[test]
fn lower_prints_the_ir_and_the_precision_table_with_original_names() {
    let run = balerc(&[
        "lower",
        s(&fixture("bn_dropout_ts13.onnx")),
        "--dump-ir",
        "--calibration",
        s(&fixture("bn_dropout_ts13.input.npy")),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let out = text(&run.stdout);
    assert!(out.contains("dense \"/0/Gemm\""), "{out}");
    assert!(!out.contains("batch_norm"), "BatchNorm should be folded:\n{out}");
    assert!(out.contains("(exact)") && out.contains("max |err|"), "{out}");
}

#[test]
fn a_precision_file_is_applied_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        "default = \"ap_fixed<16,6>\"\n[layers.\"/2/Gemm\"]\nweight = \"ap_fixed<8,2,AP_RND,AP_SAT>\"\n",
    )
    .unwrap();
    let run = balerc(&["lower", s(&fixture("fpga_encoder_ts13.onnx")), "--config", s(&config)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let line = text(&run.stdout).lines().find(|l| l.starts_with("/2/Gemm")).unwrap().to_string();
    assert!(line.contains("ap_fixed<8,2,AP_RND,AP_SAT>"), "{line}");

    std::fs::write(&config, "default = \"ap_fixed<16,6>\"\n[layers.\"/9/Gemm\"]\nweight = \"ap_fixed<8,2>\"\n")
        .unwrap();
    let run = balerc(&["lower", s(&fixture("fpga_encoder_ts13.onnx")), "--config", s(&config)]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("'/9/Gemm'"), "{}", text(&run.stderr));
}

/// Runs a failing command and returns its one-line error.
fn failure(args: &[&str]) -> String {
    let run = balerc(args);
    assert!(!run.status.success(), "expected failure: {args:?}");
    let err = text(&run.stderr);
    assert!(err.starts_with("error: ") || err.contains("error:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_input_gives_one_clear_error_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("y.npy");
    let model = fixture("fpga_encoder_ts13.onnx");
    let good = fixture("fpga_encoder_ts13.input.npy");

    let err = failure(&["simulate", "missing.onnx", "--input", s(&good), "--output", s(&out)]);
    assert!(err.contains("missing.onnx"), "{err}");

    let corrupt = dir.path().join("corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x07garbage that is not protobuf\xff\xff").unwrap();
    let err = failure(&["lower", s(&corrupt)]);
    assert!(err.contains("corrupt.onnx"), "{err}");

    let err = failure(&["lower", s(&fixture("unsupported_softmax.onnx"))]);
    assert!(err.contains("Softmax") && err.contains("/1/Softmax"), "{err}");

    let nan = dir.path().join("nan.npy");
    let mut x = ArrayD::<f32>::zeros(ndarray::IxDyn(&[3, 16]));
    x[[1, 5]] = f32::NAN;
    x.write_npy(std::fs::File::create(&nan).unwrap()).unwrap();
    let err = failure(&["simulate", s(&model), "--input", s(&nan), "--output", s(&out)]);
    assert!(err.contains("sample 1, element 5"), "{err}");

    let wrong = dir.path().join("wrong.npy");
    ArrayD::<f32>::zeros(ndarray::IxDyn(&[3, 15])).write_npy(std::fs::File::create(&wrong).unwrap()).unwrap();
    let err = failure(&["simulate", s(&model), "--input", s(&wrong), "--output", s(&out)]);
    assert!(err.contains("[3, 15]") && err.contains("16"), "{err}");

    let err = failure(&["lower", s(&model), "--precision", "ap_fixed<70,6>"]);
    assert!(err.contains("width 70"), "{err}");

    let err = failure(&["lower", s(&model), "--precision", "ap_fixed<40,6>", "--config", "/nonexistent/p.toml"]);
    assert!(err.contains("/nonexistent/p.toml"), "{err}");

    assert!(!out.exists(), "a failed run left {out:?} behind");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "stray temporary files");
}

#[test]
fn an_impossible_exact_accumulator_is_refused() {
    let err = failure(&["lower", s(&fixture("baler_ae_ts13.onnx")), "--precision", "ap_fixed<40,20>"]);
    assert!(err.contains("accumulator") && err.contains("64"), "{err}");
}

#[test]
fn new_train_and_lower_a_model_directory() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("jets");
    let new = balerc(&["new", s(&project)]);
    assert!(new.status.success(), "{}", text(&new.stderr));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz");
    let model = dir.path().join("trained");
    let train = balerc(&[
        "train",
        s(&project),
        "--input",
        s(&data),
        "--epochs",
        "2",
        "--out",
        s(&model),
        "--set",
        "model.hidden=[20, 10]",
        "--set",
        "model.activation=relu",
        "--latent",
        "8",
    ]);
    assert!(train.status.success(), "{}", text(&train.stderr));
    assert!(text(&train.stdout).contains("-> [20, 10] -> 8"), "{}", text(&train.stdout));
    for file in ["loss.csv", "loss.json", "loss.png", "loss.svg"] {
        assert!(project.join("outputs/training").join(file).exists(), "{file}");
    }

    let lower =
        balerc(&["lower", s(&model), "--part", "encoder", "--target", "verilog", "--out", s(&dir.path().join("rtl"))]);
    assert!(lower.status.success(), "{}", text(&lower.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rtl/report.json")).unwrap()).unwrap();
    assert_eq!((report["input"]["count"].as_u64(), report["output"]["count"].as_u64()), (Some(24), Some(8)));

    // The lowered encoder produces the latent of a compressed file, and the result is judged
    // next to the float encoder's.
    let (rtl, out) = (dir.path().join("rtl"), dir.path().join("out"));
    std::fs::create_dir(&out).unwrap();
    for (name, extra) in [("float", vec![]), ("hardware", vec!["--encoder-hardware", s(&rtl)])] {
        let packed = out.join(format!("{name}.baler"));
        let mut args = vec!["compress", "--model", s(&model), "--input", s(&data), "--output", s(&packed)];
        args.extend(extra);
        let compress = balerc(&args);
        assert!(compress.status.success(), "{}", text(&compress.stderr));
        let restored = out.join(format!("{name}.npz"));
        let decompress = balerc(&["decompress", "--input", s(&packed), "--output", s(&restored), "--model", s(&model)]);
        assert!(decompress.status.success(), "{}", text(&decompress.stderr));
    }
    let info = balerc(&["info", s(&out.join("hardware.baler"))]);
    assert!(text(&info.stdout).contains("hardware: ap_fixed<16,6> -> ap_fixed<16,6>"), "{}", text(&info.stdout));
    let (float, hardware) =
        (format!("float={}", s(&out.join("float.npz"))), format!("fpga={}", s(&out.join("hardware.npz"))));
    let evaluate = balerc(&[
        "evaluate",
        "--original",
        s(&data),
        "--reconstructed",
        &float,
        "--reconstructed",
        &hardware,
        "--out",
        s(&out.join("report")),
    ]);
    assert!(evaluate.status.success(), "{}", text(&evaluate.stderr));
    assert!(text(&evaluate.stdout).contains("fpga NRMSE"), "{}", text(&evaluate.stdout));
    for file in
        ["comparison.txt", "comparison.json", "comparison.png", "residuals.svg", "index.html", "fpga/metrics.json"]
    {
        assert!(out.join("report").join(file).exists(), "{file}");
    }
    let other_model = failure(&[
        "compress",
        "--model",
        s(&model),
        "--input",
        s(&data),
        "--output",
        s(&out.join("x.baler")),
        "--encoder-hardware",
        s(&out),
    ]);
    assert!(other_model.contains("quantized.json"), "{other_model}");

    let exported = dir.path().join("onnx");
    std::fs::create_dir(&exported).unwrap();
    let export = balerc(&["export-onnx", s(&model), "--out", s(&exported)]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    for file in ["autoencoder.onnx", "encoder.onnx", "decoder.onnx"] {
        assert_eq!(std::fs::read(exported.join(file)).unwrap(), std::fs::read(model.join(file)).unwrap(), "{file}");
    }
}

#[test]
fn training_mistakes_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(balerc(&["new", s(dir.path())]).status.success());
    let no_input = failure(&["train", s(dir.path())]);
    assert!(no_input.contains("data.input"), "{no_input}");
    let typo = failure(&["train", s(dir.path()), "--set", "training.epoch=3"]);
    assert!(typo.contains("epoch") && typo.contains("balerc.toml"), "{typo}");
    let missing = failure(&["train", s(dir.path()), "--input", "nowhere.npz"]);
    assert!(missing.contains("nowhere.npz"), "{missing}");
    let bad_device = failure(&["train", s(dir.path()), "--device", "cuda:0,cuda:x"]);
    assert!(bad_device.contains("after 'cuda:' must be a number"), "{bad_device}");
    let not_a_model = failure(&["export-onnx", s(dir.path())]);
    assert!(not_a_model.contains("not a balerc model"), "{not_a_model}");
}

#[test]
fn training_needs_no_project() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz");
    std::fs::copy(&sample, dir.path().join("jets.npz")).unwrap();
    let in_dir = |args: &[&str]| balerc_in(dir.path(), args);

    let nothing = in_dir(&["train"]);
    assert!(!nothing.status.success());
    let message = text(&nothing.stderr);
    assert!(message.contains("balerc.toml") && message.contains("--input"), "{message}");

    let small = ["--epochs", "1", "--latent", "8", "--set", "model.hidden=[20, 10]"];
    let train = in_dir(&[&["train", "--input", "jets.npz"], &small[..]].concat());
    assert!(train.status.success(), "{}", text(&train.stderr));
    assert!(text(&train.stderr).contains("default settings"), "{}", text(&train.stderr));
    let model = dir.path().join("jets.model");
    assert!(model.join("model.json").is_file() && model.join("decoder.onnx").is_file());
    assert!(dir.path().join("jets.model.training").is_dir());
    assert!(!dir.path().join("balerc.toml").exists() && !dir.path().join("models").exists());
    let compress = in_dir(&["compress", "--model", "jets.model", "--input", "jets.npz", "--max-rel-error", "1e-2"]);
    assert!(compress.status.success(), "{}", text(&compress.stderr));
    assert!(dir.path().join("jets.baler").is_file());

    // --out puts the model elsewhere; the training outputs follow it.
    let elsewhere = in_dir(&[&["train", "--input", "jets.npz", "--out", "models/small"], &small[..]].concat());
    assert!(elsewhere.status.success(), "{}", text(&elsewhere.stderr));
    assert!(dir.path().join("models/small/model.json").is_file());
    assert!(dir.path().join("models/small.training").is_dir());
}

#[test]
fn a_parquet_table_is_trained_on_compressed_and_comes_back_as_parquet_in_its_own_types() {
    a_typed_table_goes_round_in_its_own_format("mixed_types.parquet");
}

#[test]
fn a_root_tree_is_trained_on_compressed_and_comes_back_as_root_in_its_own_types() {
    a_typed_table_goes_round_in_its_own_format("mixed_types.root");
}

/// Trains on a fixture of io/tests/fixtures whose columns have types of their own,
/// compresses it within 1e-3 of each column's range, deletes it and decompresses: the same
/// format, names and types come back, every value within its bound, small integers and
/// booleans exactly.
fn a_typed_table_goes_round_in_its_own_format(name: &str) {
    use balerc_io::dataset::{SampleReader, StoredDtype};
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("io/tests/fixtures").join(name);
    let table = dir.path().join(name);
    std::fs::copy(&fixture, &table).unwrap();
    let model = dir.path().join("model");
    let train = balerc(&[
        "train",
        "--input",
        s(&table),
        "--out",
        s(&model),
        "--epochs",
        "2",
        "--latent",
        "3",
        "--set",
        "model.hidden=[8]",
    ]);
    assert!(train.status.success(), "{}", text(&train.stderr));
    let packed = table.with_extension("baler");
    let compress = balerc(&["compress", "--model", s(&model), "--input", s(&table), "--max-rel-error", "1e-3"]);
    assert!(compress.status.success(), "{}", text(&compress.stderr));
    std::fs::remove_file(&table).unwrap();
    let decompress = balerc(&["decompress", "--model", s(&model), "--input", s(&packed)]);
    assert!(decompress.status.success(), "{}", text(&decompress.stderr));

    let back = SampleReader::open(&table).unwrap();
    let original = SampleReader::open(&fixture).unwrap();
    assert_eq!(back.layout().format, original.layout().format);
    assert_eq!(back.layout().column_dtypes, original.layout().column_dtypes);
    assert_eq!(back.layout().names, original.layout().names);
    let dtypes = original.layout().column_dtypes.clone();
    let (back, original) = (back.read_all().unwrap().values, original.read_all().unwrap().values);
    for c in 0..original.shape()[1] {
        let (column, restored) = (original.index_axis(ndarray::Axis(1), c), back.index_axis(ndarray::Axis(1), c));
        let range = column.fold(f64::MIN, |a, &b| a.max(b)) - column.fold(f64::MAX, |a, &b| a.min(b));
        for (x, y) in column.iter().zip(&restored) {
            assert!((x - y).abs() <= 1e-3 * range, "column {c}: {x} came back as {y}");
        }
        // Integers and booleans whose bound is below half a step come back exactly.
        if matches!(dtypes[c], StoredDtype::I16 | StoredDtype::U8 | StoredDtype::I8 | StoredDtype::Bool) {
            assert_eq!(column, restored, "{:?}", dtypes[c]);
        }
    }
}

#[test]
fn an_hdf5_group_of_columns_is_named_as_file_object_from_training_to_decompression() {
    use balerc_io::dataset::SampleReader;
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("io/tests/fixtures/columns.h5");
    std::fs::copy(&fixture, dir.path().join("columns.h5")).unwrap();
    let in_dir = |args: &[&str]| balerc_in(dir.path(), args);
    let small = ["--epochs", "2", "--latent", "2", "--set", "model.hidden=[4]"];
    let train = in_dir(&[&["train", "--input", "columns.h5:/events", "--out", "model"], &small[..]].concat());
    assert!(train.status.success(), "{}", text(&train.stderr));
    let compress =
        in_dir(&["compress", "--model", "model", "--input", "columns.h5:/events", "--max-rel-error", "1e-3"]);
    assert!(compress.status.success(), "{}", text(&compress.stderr));
    assert!(dir.path().join("columns.baler").is_file(), "data.h5:/group compresses into data.baler");
    let decompress =
        in_dir(&["decompress", "--model", "model", "--input", "columns.baler", "--output", "back.h5:/restored"]);
    assert!(decompress.status.success(), "{}", text(&decompress.stderr));

    let original = SampleReader::open(&PathBuf::from(format!("{}:/events", fixture.display()))).unwrap();
    let back = SampleReader::open(&dir.path().join("back.h5")).unwrap();
    assert_eq!(
        (&back.layout().names, &back.layout().column_dtypes),
        (&original.layout().names, &original.layout().column_dtypes)
    );
    let (original, back) = (original.read_all().unwrap().values, back.read_all().unwrap().values);
    // is_b (bool) and n (int16, range 294, bound 0.29) come back exactly; pt within its bound.
    for c in 0..2 {
        assert_eq!(original.index_axis(ndarray::Axis(1), c), back.index_axis(ndarray::Axis(1), c), "column {c}");
    }
    let bound = 1e-3 * 49.5;
    assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= bound));

    let missing = in_dir(&[
        "compress",
        "--model",
        "model",
        "--input",
        "columns.h5:/nothing",
        "--max-rel-error",
        "1e-3",
        "--output",
        "x.baler",
    ]);
    assert!(
        !missing.status.success() && text(&missing.stderr).contains("no dataset or group '/nothing'"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn columns_are_chosen_for_training_and_compression_by_name() {
    use balerc_io::dataset::SampleReader;
    let dir = tempfile::tempdir().unwrap();
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("io/tests/fixtures/mixed_types.parquet");
    let table = s(&table);
    let model = dir.path().join("model");
    let small = ["--epochs", "1", "--latent", "1", "--set", "model.hidden=[4]"];
    let train = balerc(&[&["train", "--input", table, "--out", s(&model), "--columns", "eta,pt"], &small[..]].concat());
    assert!(train.status.success(), "{}", text(&train.stderr));
    let packed = dir.path().join("two.baler");
    let compress = |columns: &str| {
        balerc(&[
            "compress",
            "--model",
            s(&model),
            "--input",
            table,
            "--columns",
            columns,
            "--output",
            s(&packed),
            "--force",
            "--max-rel-error",
            "1e-3",
        ])
    };
    let run = compress("eta,pt");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let restored = dir.path().join("two.parquet");
    let decompress = balerc(&["decompress", "--model", s(&model), "--input", s(&packed), "--output", s(&restored)]);
    assert!(decompress.status.success(), "{}", text(&decompress.stderr));
    assert_eq!(SampleReader::open(&restored).unwrap().layout().names, ["eta", "pt"]);

    let unknown = compress("eta,energy");
    assert!(
        !unknown.status.success() && text(&unknown.stderr).contains("no column 'energy'"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn a_model_trained_with_qat_is_lowered_at_its_precision() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("jets");
    assert!(balerc(&["new", s(&project)]).status.success());
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz");
    let model = dir.path().join("trained");
    let train = balerc(&[
        "train",
        s(&project),
        "--input",
        s(&data),
        "--epochs",
        "1",
        "--out",
        s(&model),
        "--set",
        "model.hidden=[20, 10]",
        "--latent",
        "8",
        "--qat",
        "ap_fixed<12,5,AP_RND,AP_SAT>",
    ]);
    assert!(train.status.success(), "{}", text(&train.stderr));
    let precision = std::fs::read_to_string(model.join("precision.toml")).unwrap();
    assert_eq!(precision, "default = \"ap_fixed<12,5,AP_RND,AP_SAT>\"\n");

    let lower = balerc(&["lower", s(&model), "--part", "encoder"]);
    assert!(lower.status.success(), "{}", text(&lower.stderr));
    assert!(text(&lower.stderr).contains("precision.toml"), "{}", text(&lower.stderr));
    let table = text(&lower.stdout);
    assert!(table.contains("ap_fixed<12,5,AP_RND,AP_SAT>") && !table.contains("ap_fixed<16,6>"), "{table}");

    // An explicit precision still wins, and says nothing about the file.
    let explicit = balerc(&["lower", s(&model), "--part", "encoder", "--precision", "ap_fixed<16,6>"]);
    assert!(explicit.status.success(), "{}", text(&explicit.stderr));
    assert!(!text(&explicit.stderr).contains("precision.toml"), "{}", text(&explicit.stderr));
    assert!(text(&explicit.stdout).contains("ap_fixed<16,6>"));

    let bad = failure(&["train", s(&project), "--input", s(&data), "--epochs", "1", "--qat", "ap_fixed<16>"]);
    assert!(bad.contains("training.qat"), "{bad}");
}

#[test]
fn report_prints_the_latency_estimate_and_interval_of_an_hls_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hls");
    let model = fixture("fpga_encoder_ts13.onnx");
    let run = balerc(&["lower", s(&model), "--target", "hls", "--reuse-factor", "4", "--out", s(&out)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let run = balerc(&["report", s(&out)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let printed = text(&run.stdout);
    // 150 multipliers shared by 320, 200 and 80 products: 3 + 2 + 1 product stages, one
    // adder stage each at 5 ns.
    assert!(printed.contains("latency_cycles   9 (estimate;"), "{printed}");
    assert!(printed.contains("ii               4"), "{printed}");
}

#[test]
fn outlier_removal_from_training_to_decompression() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("jets");
    assert!(balerc(&["new", s(&project)]).status.success());
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz");
    let train = |model: &Path, outliers: &str| {
        let args = ["train", s(&project), "--input", s(&data), "--epochs", "2", "--out", s(model), "--latent", "8"];
        let run = balerc(&[&args[..], &["--set", "model.hidden=[20, 10]", "--outliers", outliers]].concat());
        assert!(run.status.success(), "{}", text(&run.stderr));
        text(&run.stdout)
    };
    let model = dir.path().join("trained");
    let stdout = train(&model, "auto");
    assert!(stdout.contains("outlier round 2/2: trained on") && stdout.contains("final model:"), "{stdout}");
    assert!(model.join("outliers.json").is_file());

    let (packed, restored) = (dir.path().join("x.baler"), dir.path().join("x.npz"));
    let compress = balerc(&[
        "compress",
        "--model",
        s(&model),
        "--input",
        s(&data),
        "--output",
        s(&packed),
        "--outliers",
        "auto",
        "--max-abs-error",
        "0.01",
    ]);
    assert!(compress.status.success(), "{}", text(&compress.stderr));
    assert!(text(&compress.stdout).contains("flagged as outliers, stored in full"), "{}", text(&compress.stdout));
    let info = text(&balerc(&["info", s(&packed)]).stdout);
    assert!(info.contains("stored in full: latent log density below"), "{info}");
    let decompress = balerc(&["decompress", "--input", s(&packed), "--output", s(&restored), "--model", s(&model)]);
    assert!(decompress.status.success(), "{}", text(&decompress.stderr));

    let plain = dir.path().join("plain");
    assert!(!train(&plain, "none").contains("outlier round"));
    let error =
        failure(&["compress", "--model", s(&plain), "--input", s(&data), "--output", s(&packed), "--outliers", "auto"]);
    assert!(error.contains(s(&plain)) && error.contains("train the model with --outliers auto"), "{error}");
}

#[test]
fn outputs_default_to_the_input_s_name_and_are_not_written_over_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("codec/tests/fixtures/jets_model");
    let data = dir.path().join("jets.npz");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz"), &data).unwrap();
    let compress = ["compress", "--model", s(&model), "--input", s(&data), "--max-rel-error", "1e-3"];
    let done = balerc(&compress);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let packed = dir.path().join("jets.baler");
    assert!(text(&done.stdout).contains(s(&packed)), "{}", text(&done.stdout));
    // The fixture's decoder packs to about a kilobyte, under 2 % of the file: it travels along.
    assert!(text(&done.stdout).contains("decoder embedded"), "{}", text(&done.stdout));
    let info = text(&balerc(&["info", s(&packed)]).stdout);
    assert!(info.contains("per column of 24; --json lists each"), "{info}");
    let facts: serde_json::Value = serde_json::from_slice(&balerc(&["info", s(&packed), "--json"]).stdout).unwrap();
    assert_eq!((facts["samples"].as_u64(), facts["model"]["embedded"].as_bool()), (Some(5000), Some(true)));
    assert_eq!(facts["max_abs_error"].as_array().map(Vec::len), Some(24));
    assert_eq!(facts["bytes"]["file"].as_u64(), Some(std::fs::metadata(&packed).unwrap().len()));
    let written = std::fs::read(&packed).unwrap();

    // Neither the .baler file nor the original is written over by default.
    let again = failure(&compress);
    assert!(again.contains("jets.baler exists") && again.contains("--force"), "{again}");
    assert_eq!(std::fs::read(&packed).unwrap(), written);
    let original = std::fs::read(&data).unwrap();
    let refused = failure(&["decompress", "--input", s(&packed)]);
    assert!(refused.contains("jets.npz exists") && refused.contains("--force"), "{refused}");
    assert_eq!(std::fs::read(&data).unwrap(), original);

    let forced = balerc(&["decompress", "--input", s(&packed), "--force", "--model", s(&model)]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_eq!(balerc_runtime::dataset::read(&data).unwrap().values.shape(), &[5000, 24]);
    std::fs::rename(&data, dir.path().join("elsewhere.npz")).unwrap();
    let restored = balerc(&["decompress", "--input", s(&packed)]);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert!(data.exists(), "the original's form, next to the .baler file");

    // Left out on request, the decoder is found in the model directory the file records,
    // and named by its hash once that directory no longer holds it.
    let bare = dir.path().join("bare.baler");
    let input = dir.path().join("elsewhere.npz");
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for file in ["decoder.onnx", "encoder.onnx", "autoencoder.onnx", "model.json"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("codec/tests/fixtures/jets_model").join(file),
            model.join(file),
        )
        .unwrap();
    }
    let done =
        balerc(&["compress", "--model", s(&model), "--input", s(&input), "--output", s(&bare), "--no-embed-model"]);
    assert!(done.status.success() && !text(&done.stdout).contains("embedded"), "{}", text(&done.stdout));
    let recorded = std::fs::canonicalize(&model).unwrap();
    let facts: serde_json::Value = serde_json::from_slice(&balerc(&["info", s(&bare), "--json"]).stdout).unwrap();
    assert_eq!(facts["model"]["embedded"].as_bool(), Some(false));
    assert_eq!(facts["model"]["compressed_with"].as_str(), recorded.to_str());
    assert!(text(&balerc(&["info", s(&bare)]).stdout).contains(&format!("compressed with {}", recorded.display())));
    let found = balerc(&["decompress", "--input", s(&bare), "--output", s(&dir.path().join("found.npz"))]);
    assert!(text(&found.stdout).contains(&format!("decoder from {}", recorded.display())), "{}", text(&found.stderr));
    let moved = dir.path().join("moved-model");
    std::fs::rename(&model, &moved).unwrap();
    let needs_model = failure(&["decompress", "--input", s(&bare), "--output", s(&dir.path().join("x.npz"))]);
    assert!(needs_model.contains("--model") && needs_model.contains("sha256"), "{needs_model}");
    assert!(needs_model.contains(&format!("compressed with {}", recorded.display())), "{needs_model}");
    let given =
        balerc(&["decompress", "--input", s(&bare), "--output", s(&dir.path().join("x.npz")), "--model", s(&moved)]);
    assert!(given.status.success(), "{}", text(&given.stderr));
}

/// Runs balerc until its partial output appears in `dir`, then sends it `signal`: the process
/// must stop with 128 + signal and leave nothing of its output behind.
#[cfg(unix)]
fn interrupted(args: &[&str], dir: &Path, signal: i32) {
    let listing = || {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths
    };
    let before = listing();
    let mut child = Command::new(env!("CARGO_BIN_EXE_balerc")).args(args).stdout(Stdio::null()).spawn().unwrap();
    let partial =
        || std::fs::read_dir(dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".partial-"));
    let started = std::time::Instant::now();
    while !partial() {
        assert!(child.try_wait().unwrap().is_none(), "{args:?} ended before it could be interrupted");
        assert!(started.elapsed().as_secs() < 60, "no partial output appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + signal), "{args:?}");
    assert_eq!(listing(), before, "{args:?} left files behind");
}

#[cfg(unix)]
#[test]
fn ctrl_c_sigterm_and_sighup_stop_the_work_and_remove_the_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("codec/tests/fixtures/jets_model");
    let jets =
        balerc_runtime::dataset::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/jets_sample.npz"))
            .unwrap()
            .values
            .mapv(|v| v as f32);
    // A million rows (96 MB): seconds of work, time enough to be interrupted.
    let views: Vec<_> = std::iter::repeat_n(jets.view(), 200).collect();
    let big = ndarray::concatenate(ndarray::Axis(0), &views).unwrap();
    let data = dir.path().join("big.npy");
    big.write_npy(std::fs::File::create(&data).unwrap()).unwrap();
    let packed = dir.path().join("big.baler");
    let compress =
        ["compress", "--model", s(&model), "--input", s(&data), "--output", s(&packed), "--max-abs-error", "0.01"];
    interrupted(&compress, dir.path(), libc::SIGINT);
    interrupted(&compress, dir.path(), libc::SIGHUP);

    let done = balerc(&compress);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let restored = dir.path().join("restored.npy");
    interrupted(
        &["decompress", "--input", s(&packed), "--output", s(&restored), "--model", s(&model)],
        dir.path(),
        libc::SIGTERM,
    );

    // Lowering looks for no stops: it ends at once, its build directory removed half-written.
    let large = fixture("baler_ae_ts13.onnx");
    let build = dir.path().join("rtl");
    let lower = ["lower", s(&large), "--part", "encoder", "--target", "verilog", "--out", s(&build)];
    interrupted(&lower, dir.path(), libc::SIGINT);
    interrupted(&lower, dir.path(), libc::SIGTERM);
}

#[test]
fn a_quantized_model_brings_its_own_types_and_the_table_says_so() {
    let model = fixture("qonnx_dense_ae.onnx");
    let run = balerc(&["lower", s(&model)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let out = text(&run.stdout);
    assert!(out.starts_with("input: ap_fixed<8,1,AP_RND_CONV,AP_SAT> (from model)"), "{out}");
    assert!(out.contains("types from") && out.contains("weight, bias: model; result: exact sum"), "{out}");

    let run = balerc(&["lower", s(&model), "--precision", "ap_fixed<12,4>"]);
    let out = text(&run.stdout);
    assert!(out.contains("weight, bias: model; result: --precision"), "{out}");

    // simulate with no precision equals the model's reference on every value.
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("y.npy");
    let input = fixture("qonnx_dense_ae.input.npy");
    let run = balerc(&["simulate", s(&model), "--input", s(&input), "--output", s(&output)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let reference = read::<f32>(&fixture("qonnx_dense_ae.ref.npy"));
    assert_eq!(read::<f32>(&output), reference);
}

#[test]
fn a_qdq_model_with_float_scales_lowers_with_the_model_s_own_types() {
    // onnxruntime's static quantizer: scales such as 0.0039 are no powers of two, so the
    // quantizers between layers become fixed-point requantizations.
    let run = balerc(&["lower", s(&fixture("qdq_static_dense.onnx"))]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let table = text(&run.stdout);
    assert!(table.contains("input: ap_ufixed<8,8,AP_RND_CONV,AP_SAT> (from model)"), "{table}");
    let requantizers = table.lines().filter(|l| l.contains("_QuantizeLinear") && l.contains("result: model")).count();
    assert_eq!(requantizers, 2, "{table}");
}

#[test]
fn lower_folds_verilog_globally_and_per_layer_and_refuses_illegal_reuse_factors() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("fpga_encoder_ts13.onnx");
    let report = |out: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
    };
    let out = dir.path().join("folded");
    let run = balerc(&["lower", s(&model), "--target", "verilog", "--reuse-factor", "4", "--out", s(&out)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("a sample every 4 clocks"), "{}", text(&run.stderr));
    let folded = report(&out);
    assert_eq!(folded["ii"], 4);
    assert!(folded["handshake"].as_str().unwrap().starts_with("in_ready"), "{folded}");
    let factors: Vec<u64> =
        folded["layers"].as_array().unwrap().iter().map(|l| l["reuse_factor"].as_u64().unwrap()).collect();
    assert_eq!(factors, vec![4, 4, 4]);
    assert!(std::fs::read_to_string(out.join("rtl/balerc_top.v")).unwrap().contains("output wire in_ready"));

    // One layer of its own, in the precision file.
    let config = dir.path().join("precision.toml");
    std::fs::write(&config, "default = \"ap_fixed<16,6>\"\n[layers.\"/2/Gemm\"]\nreuse_factor = 20\n").unwrap();
    let out = dir.path().join("per_layer");
    let run = balerc(&[
        "lower",
        s(&model),
        "--config",
        s(&config),
        "--target",
        "verilog",
        "--reuse-factor",
        "2",
        "--out",
        s(&out),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let per_layer = report(&out);
    assert_eq!(per_layer["ii"], 20);
    let factors: Vec<u64> =
        per_layer["layers"].as_array().unwrap().iter().map(|l| l["reuse_factor"].as_u64().unwrap()).collect();
    assert_eq!(factors, vec![2, 20, 2]);

    // Too many clocks for the 10 products of the last layer's outputs: refused, nothing written.
    let out = dir.path().join("illegal");
    let bad = failure(&["lower", s(&model), "--target", "verilog", "--reuse-factor", "11", "--out", s(&out)]);
    assert!(bad.contains("reuse factor 11") && bad.contains("legal values: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"), "{bad}");
    assert!(!out.join("report.json").exists());
    // The HLS backend takes one factor for the whole model.
    let bad = failure(&["lower", s(&model), "--config", s(&config), "--target", "hls", "--out", s(&out)]);
    assert!(bad.contains("'/2/Gemm'") && bad.contains("--target verilog"), "{bad}");
}

#[test]
fn report_of_a_model_lists_every_legal_reuse_factor_as_lower_builds_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("fpga_encoder_ts13.onnx");
    let run = balerc(&["report", s(&model), "--precision", "ap_fixed<16,6>", "--json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let table: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let forms = table["forms"].as_array().unwrap();
    // The last layer's outputs have 10 products each: 1 to 10 clocks can share them.
    let legal: Vec<u64> = (1..=10).collect();
    assert_eq!(table["legal_reuse_factors"], serde_json::json!(legal));
    let (parallel, streamed): (Vec<_>, Vec<_>) = forms.iter().partition(|f| f["io"] == "parallel");
    let listed: Vec<u64> = parallel.iter().map(|f| f["reuse_factor"].as_u64().unwrap()).collect();
    assert_eq!(listed, legal);
    assert_eq!(streamed.len(), 1, "{table}");
    assert_eq!(streamed[0]["io"], "stream");
    for form in &parallel {
        assert_eq!(form["ii"], form["reuse_factor"], "{form}");
        assert_eq!((form["multipliers"].as_str(), form["source"].as_str()), (Some("auto"), Some("estimate")));
        assert_eq!(form["bram18"], 0);
    }
    // Each row is what lower writes: folded at 1, 4 and 10, and streamed.
    for (reuse, form) in [(1, parallel[0]), (4, parallel[3]), (10, parallel[9]), (1, streamed[0])] {
        let io = form["io"].as_str().unwrap();
        let out = dir.path().join(format!("r{reuse}{io}"));
        let r = reuse.to_string();
        let run = balerc(&[
            "lower",
            s(&model),
            "--precision",
            "ap_fixed<16,6>",
            "--target",
            "verilog",
            "--reuse-factor",
            &r,
            "--io",
            io,
            "--out",
            s(&out),
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let built: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(built["io"], io);
        let resources = &built["resources"];
        assert_eq!(form["latency_cycles"], built["latency_cycles"], "R {reuse}");
        assert_eq!(form["ii"], built["ii"], "R {reuse}");
        assert_eq!(form["lut"], resources["luts"], "R {reuse}");
        assert_eq!(
            resources["luts"].as_u64(),
            Some(resources["adder_bits"].as_u64().unwrap() + resources["mux_luts"].as_u64().unwrap())
        );
        assert_eq!(form["ff"], resources["register_bits"], "R {reuse}");
        assert_eq!(form["dsp"], resources["dsp_products"], "R {reuse}");
        // The build directory shows the same form, as estimated.
        let run = balerc(&["report", s(&out), "--json"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let shown: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let mut expected = form.clone();
        expected.as_object_mut().unwrap().remove("lowering_seconds");
        assert_eq!(shown["forms"][0], expected, "R {reuse}");
    }

    // Each style, at the factors asked for; the text table has a row each.
    let run = balerc(&[
        "report",
        s(&model),
        "--precision",
        "ap_fixed<16,6>",
        "--multipliers",
        "auto,shift-add,dsp",
        "--reuse-factors",
        "1,8",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let printed = text(&run.stdout);
    let rows: Vec<Vec<&str>> = printed
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.last() == Some(&"s") && f.len() == 12)
        .collect();
    let forms: Vec<(&str, &str, &str)> = rows.iter().map(|f| (f[0], f[1], f[2])).collect();
    let style = |m| [("parallel", m, "1"), ("parallel", m, "8"), ("stream", m, "1")];
    assert_eq!(forms, [style("auto"), style("shift-add"), style("dsp")].concat(), "{printed}");
    assert!(rows.iter().filter(|f| f[1] == "shift-add").all(|f| f[7] == "0"), "{printed}");

    // An illegal factor is refused with the legal ones; synthesis needs a build directory.
    let bad = failure(&["report", s(&model), "--reuse-factors", "11"]);
    assert!(bad.contains("legal values: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"), "{bad}");
    let bad = failure(&["report", s(&model), "--synthesize"]);
    assert!(bad.contains("needs a build directory") && bad.contains("balerc lower"), "{bad}");
}

#[test]
fn a_streamed_build_is_written_for_both_targets_and_checked_under_back_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("conv1d_ts13.onnx");
    let (rtl, hls) = (dir.path().join("rtl"), dir.path().join("hls"));
    for (target, out) in [("verilog", &rtl), ("hls", &hls)] {
        let run = balerc(&[
            "lower",
            s(&model),
            "--precision",
            "ap_fixed<16,6>",
            "--target",
            target,
            "--io",
            "stream",
            "--out",
            s(out),
        ]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(report["io"], "stream");
        // 24 pixels of one channel in, the 6 outputs of the dense layer in one beat.
        assert_eq!(report["stream"]["input_beat"]["beats"], 24, "{report}");
        assert_eq!(report["stream"]["input_beat"]["elements"], 1, "{report}");
        assert_eq!(report["stream"]["output_beat"]["elements"], 6, "{report}");
    }
    let top = std::fs::read_to_string(hls.join("firmware/balerc_top.h")).unwrap();
    assert!(top.contains("hls::stream<input_beat_t> &x, hls::stream<result_beat_t> &y"), "{top}");
    let run = balerc(&["report", s(&rtl)]);
    assert!(text(&run.stdout).contains("cycles_per_frame"), "{}", text(&run.stdout));
    if balerc_testbench::rtl::iverilog_available().is_ok() {
        let run = balerc(&["cosim", s(&rtl), "--simulator", "iverilog", "--vectors", "20"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        assert!(text(&run.stdout).contains("every output code equals"), "{}", text(&run.stdout));
    }
    // Streams take no reuse factor.
    let bad = failure(&[
        "lower",
        s(&model),
        "--target",
        "verilog",
        "--io",
        "stream",
        "--reuse-factor",
        "2",
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert!(bad.contains("leave out the reuse factor"), "{bad}");
}

#[test]
fn report_of_a_synthesized_build_shows_the_measured_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rtl");
    let model = fixture("fpga_encoder_ts13.onnx");
    let run = balerc(&["lower", s(&model), "--target", "verilog", "--reuse-factor", "2", "--out", s(&out)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    // What `report --synthesize` records, without running yosys here.
    let path = out.join("report.json");
    let mut built: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    built["resources"]["yosys"] = serde_json::json!({
        "flow": "synth_xilinx -family xcup -flatten", "lut": 12345, "ff": 678, "carry": 9, "dsp": 42, "bram18": 2
    });
    std::fs::write(&path, built.to_string()).unwrap();
    let run = balerc(&["report", s(&out)]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let printed = text(&run.stdout);
    assert!(printed.contains("ii               2"), "{printed}");
    let latency = built["latency_cycles"].to_string();
    let row = printed.lines().last().unwrap().split_whitespace().collect::<Vec<_>>();
    assert_eq!(row, vec!["parallel", "auto", "2", "2", &latency, "12,345", "678", "42", "2", "yosys"], "{printed}");
}

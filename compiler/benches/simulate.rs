//! Lowering time and bit-exact simulation throughput on the fixture models.
//! Run with `cargo bench -p balerc-compiler`; prints a table.

use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::Simulator;
use balerc_compiler::{lower, LowerOptions};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cases = [
        ("16-20-10-8 encoder", "fpga_encoder_ts13.onnx", Part::Full),
        ("24-200-100-50-15 encoder", "baler_ae_ts13.onnx", Part::Encoder),
        ("24-...-15-...-24 autoencoder", "baler_ae_ts13.onnx", Part::Full),
        ("conv AE 1x16x16", "conv2d_ae_ts17.onnx", Part::Full),
        ("CFD conv encoder 1x50x50", "cfd_encoder_ts17.onnx", Part::Full),
    ];
    println!("{:<30} {:>12} {:>10} {:>16}", "model (ap_fixed<16,6>)", "lower (ms)", "samples", "samples/s");
    for (label, file, part) in cases {
        let options = LowerOptions {
            part,
            precision: PrecisionConfig::uniform("ap_fixed<16,6>".parse().unwrap()),
            calibration: None,
        };
        let path = fixtures.join(file);
        let started = Instant::now();
        let lowered = lower(&path, &options).unwrap();
        let lower_ms = started.elapsed().as_secs_f64() * 1e3;
        let simulator = Simulator::new(&lowered.model);
        let n_in = simulator.input_len();
        // Enough samples for about a second of work on the slowest model.
        let samples = (20_000_000 / (n_in * 20).max(1)).clamp(2_000, 2_000_000);
        let input: Vec<i64> = (0..samples * n_in).map(|k| ((k * 7919) % 1024) as i64 - 512).collect();
        simulator.run(&input[..n_in * 1000]);
        let started = Instant::now();
        let output = simulator.run(&input);
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(output);
        println!("{label:<30} {lower_ms:>12.2} {samples:>10} {:>16.0}", samples as f64 / seconds);
    }
}

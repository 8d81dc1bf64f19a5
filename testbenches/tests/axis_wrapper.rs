//! The AXI4-Stream wrapper under random valid and ready patterns: every accepted sample
//! comes out once, in order, equal to the simulator's result, with its TLAST.

use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::Simulator;
use balerc_compiler::{lower, LowerOptions};
use balerc_testbench::require;
use balerc_testbench::rtl::{iverilog_available, pack_hex, unpack_hex};
use balerc_testbench::vectors::input_vectors;
use balerc_verilog::{write_project, Multipliers, Options};
use std::path::Path;
use std::process::Command;

const SAMPLES: usize = 200;

fn bench(in_tdata: u64, out_tdata: u64, samples: usize) -> String {
    format!(
        r#"`timescale 1ns/1ps
module axis_tb;
    reg aclk = 0;
    reg aresetn = 0;
    reg [{in_msb}:0] inputs [0:{last}];
    reg [{in_msb}:0] s_axis_tdata;
    reg s_axis_tvalid = 0;
    reg s_axis_tlast = 0;
    wire s_axis_tready;
    wire [{out_msb}:0] m_axis_tdata;
    wire m_axis_tvalid;
    wire m_axis_tlast;
    reg m_axis_tready = 0;
    integer sent = 0;
    integer received = 0;
    integer cycles = 0;
    integer out;
    reg take_in;
    dut_axis dut (.aclk(aclk), .aresetn(aresetn), .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast), .m_axis_tdata(m_axis_tdata),
        .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast));
    always #5 aclk = ~aclk;
    initial begin
        $readmemh("inputs.hex", inputs);
        out = $fopen("outputs.txt", "w");
        repeat (3) @(posedge aclk);
        aresetn = 1;
        while (received < {samples} && cycles < 100000) begin
            // Drive on the falling edge, sample on the rising one.
            @(negedge aclk);
            if (!s_axis_tvalid || s_axis_tready) begin
                s_axis_tvalid = (sent < {samples}) && ($random & 3) != 0;
                s_axis_tdata = inputs[sent < {samples} ? sent : 0];
                s_axis_tlast = (sent % 7) == 6;
            end
            // A slow consumer, so that the FIFO fills and s_axis_tready must drop.
            m_axis_tready = ($random & 3) == 0;
            // Handshakes are decided by the values just before the rising edge.
            #1;
            take_in = s_axis_tvalid && s_axis_tready;
            if (m_axis_tvalid && m_axis_tready) begin
                $fdisplay(out, "%h %b", m_axis_tdata, m_axis_tlast);
                received = received + 1;
            end
            @(posedge aclk);
            cycles = cycles + 1;
            if (take_in) sent = sent + 1;
            #1;
        end
        $fclose(out);
        $finish;
    end
endmodule
"#,
        in_msb = in_tdata - 1,
        out_msb = out_tdata - 1,
        last = samples - 1,
    )
}

#[test]
fn every_sample_comes_out_once_in_order_under_back_pressure() {
    let Some(()) = require(iverilog_available()) else { return };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/fixtures");
    let options = LowerOptions {
        part: Part::Full,
        precision: PrecisionConfig::uniform("ap_fixed<12,5>".parse().unwrap()),
        calibration: None,
    };
    let lowered = lower(&fixtures.join("fpga_encoder_ts13.onnx"), &options).unwrap();
    // A folded core (a sample every 3 clocks) holds the stream back through in_ready.
    for reuse in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let build = Options {
            top: "dut".into(),
            multipliers: Multipliers::ShiftAdd,
            dsp: Default::default(),
            clock_ns: 5.0,
            adder_levels_per_stage: Some(2),
            sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
            reuse: balerc_verilog::ReuseFactors::uniform(reuse),
            io: Default::default(),
        };
        write_project(&lowered.model, &build, dir.path()).unwrap();

        let model = &lowered.model;
        let (n_in, n_out) = (model.input().len(), model.output().len());
        let (w_in, w_out) = (model.input().ty.width, model.output().ty.width);
        let vectors = input_vectors(model.input().ty, n_in, SAMPLES, &[], 3);
        let vectors = &vectors[..SAMPLES];
        let in_tdata = (n_in as u64 * w_in as u64).div_ceil(8) * 8;
        let out_tdata = (n_out as u64 * w_out as u64).div_ceil(8) * 8;
        let hex: String = vectors.iter().map(|v| pack_hex(v, w_in) + "\n").collect();
        std::fs::write(dir.path().join("inputs.hex"), hex).unwrap();
        std::fs::write(dir.path().join("axis_tb.v"), bench(in_tdata, out_tdata, SAMPLES)).unwrap();
        let sources: Vec<_> = std::fs::read_dir(dir.path().join("rtl")).unwrap().map(|e| e.unwrap().path()).collect();
        let status = Command::new("iverilog")
            .args(["-g2005", "-o", "sim.vvp", "axis_tb.v"])
            .args(&sources)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let status = Command::new("vvp").args(["-n", "sim.vvp"]).current_dir(dir.path()).status().unwrap();
        assert!(status.success());

        let simulator = Simulator::new(model);
        let expected = simulator.run(&vectors.concat());
        let lines = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(lines.len(), SAMPLES, "samples lost or duplicated at reuse factor {reuse}");
        for (k, line) in lines.iter().enumerate() {
            let (data, last) = line.split_once(' ').unwrap();
            // TDATA is padded to whole bytes above the packed elements.
            let digits = (n_out * w_out as usize).div_ceil(4);
            let codes = unpack_hex(&data[data.len() - digits..], n_out, w_out, true).unwrap();
            assert_eq!(codes, expected[k * n_out..(k + 1) * n_out], "sample {k} at reuse factor {reuse}");
            assert_eq!(last == "1", k % 7 == 6, "TLAST of sample {k}");
        }
    }
}

//! An AXI4-Stream wrapper around the core: the core has a fixed latency and never
//! stalls, so the wrapper holds results in a FIFO and only accepts a sample when the
//! FIFO is sure to have room for it (counting those still in the pipeline).

use crate::text::range;
use std::fmt::Write;

pub struct Ports {
    pub in_bits: u64,
    pub out_bits: u64,
    pub latency: usize,
    /// Clocks between samples; above 1 the core has an in_ready output.
    pub ii: usize,
}

/// Bits rounded up to whole bytes, as AXI4-Stream requires of TDATA.
fn bytes(bits: u64) -> u64 {
    bits.div_ceil(8) * 8
}

pub fn wrapper(top: &str, ports: &Ports) -> String {
    let (in_bits, out_bits) = (ports.in_bits, ports.out_bits);
    let (in_tdata, out_tdata) = (bytes(in_bits), bytes(out_bits));
    // Room for everything in flight plus a little slack, as a power of two.
    let depth = (ports.latency as u64 + 2).next_power_of_two();
    let address = depth.trailing_zeros().max(1);
    let count = address + 1;
    let word = out_bits + 1;
    let mut v = String::new();
    writeln!(v, "// AXI4-Stream wrapper of {top}: one sample per beat, TLAST carried through.").unwrap();
    writeln!(v, "// Results wait in a {depth}-entry FIFO; s_axis_tready drops when it could fill.").unwrap();
    writeln!(
        v,
        "module {top}_axis (\n    input  wire aclk,\n    input  wire aresetn,\n    input  wire {} s_axis_tdata,\n    input  wire s_axis_tvalid,\n    output wire s_axis_tready,\n    input  wire s_axis_tlast,\n    output wire {} m_axis_tdata,\n    output wire m_axis_tvalid,\n    input  wire m_axis_tready,\n    output wire m_axis_tlast\n);",
        range(in_tdata as u32),
        range(out_tdata as u32)
    )
    .unwrap();
    let pad_in = if in_tdata > in_bits { "    /* verilator lint_off UNUSED */\n" } else { "" };
    let pad_in_end = if in_tdata > in_bits { "    /* verilator lint_on UNUSED */\n" } else { "" };
    v += pad_in;
    writeln!(v, "    wire {} core_in = s_axis_tdata[{}:0];", range(in_bits as u32), in_bits - 1).unwrap();
    v += pad_in_end;
    writeln!(v, "    wire accept = s_axis_tvalid & s_axis_tready;").unwrap();
    writeln!(v, "    wire emit = m_axis_tvalid & m_axis_tready;").unwrap();
    writeln!(v, "    wire core_valid;\n    wire {} core_out;", range(out_bits as u32)).unwrap();
    // A folded core takes a sample only every II clocks and says when with in_ready.
    let (core_ready, ready_port) = if ports.ii > 1 {
        writeln!(v, "    wire core_ready;").unwrap();
        (" & core_ready", ", .in_ready(core_ready)")
    } else {
        ("", "")
    };
    writeln!(v, "    {top} core (.clk(aclk), .rst(~aresetn), .in_valid(accept), .in_data(core_in){ready_port}, .out_valid(core_valid), .out_data(core_out));").unwrap();
    // TLAST travels beside the data with the core's latency.
    let last_shift = if ports.latency == 1 {
        "s_axis_tlast".to_string()
    } else {
        format!("{{last_pipe[{}:0], s_axis_tlast}}", ports.latency - 2)
    };
    writeln!(
        v,
        "    reg {} last_pipe;\n    always @(posedge aclk) last_pipe <= {last_shift};",
        range(ports.latency as u32)
    )
    .unwrap();
    writeln!(v, "    reg {} fifo [0:{}];", range(word as u32), depth - 1).unwrap();
    writeln!(
        v,
        "    reg {} head;\n    reg {} tail;\n    reg {} occupied;",
        range(address),
        range(address),
        range(count)
    )
    .unwrap();
    let one = |w: u32| format!("{w}'d1");
    writeln!(v, "    always @(posedge aclk) begin").unwrap();
    writeln!(v, "        if (!aresetn) begin\n            head <= {address}'d0;\n            tail <= {address}'d0;\n            occupied <= {count}'d0;\n        end else begin").unwrap();
    writeln!(v, "            if (core_valid) begin\n                fifo[tail] <= {{last_pipe[{}], core_out}};\n                tail <= tail + {};\n            end", ports.latency - 1, one(address)).unwrap();
    writeln!(v, "            if (emit) head <= head + {};", one(address)).unwrap();
    writeln!(
        v,
        "            occupied <= occupied + {{{}'d0, accept}} - {{{}'d0, emit}};\n        end\n    end",
        count - 1,
        count - 1
    )
    .unwrap();
    // Samples accepted but not yet sent, in the pipeline or in the FIFO.
    writeln!(v, "    reg {} stored;", range(count)).unwrap();
    writeln!(v, "    always @(posedge aclk) stored <= !aresetn ? {count}'d0 : stored + {{{}'d0, core_valid}} - {{{}'d0, emit}};", count - 1, count - 1).unwrap();
    writeln!(v, "    assign s_axis_tready = aresetn & (occupied < {count}'d{depth}){core_ready};").unwrap();
    writeln!(v, "    assign m_axis_tvalid = stored != {count}'d0;").unwrap();
    writeln!(v, "    wire {} front = fifo[head];", range(word as u32)).unwrap();
    let pad = out_tdata - out_bits;
    let data =
        if pad > 0 { format!("{{{pad}'d0, front[{}:0]}}", out_bits - 1) } else { format!("front[{}:0]", out_bits - 1) };
    writeln!(v, "    assign m_axis_tdata = {data};\n    assign m_axis_tlast = front[{}];\nendmodule", out_bits)
        .unwrap();
    v
}

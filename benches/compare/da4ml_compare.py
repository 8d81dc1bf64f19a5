#!/usr/bin/env python3
"""balerc against da4ml on the same weights, the same precision and the same yosys flow.

For each model (Baler's FPGA encoder 16-20-10-8 and the 24-200-100-50-15 encoder of the
Baler autoencoder) this script

1. reads the Gemm weights and the activations from the ONNX fixture;
2. runs balerc (`lower --target verilog`, then `report --synthesize`) for a few settings;
3. builds the same network with da4ml's functional API (`FixedVariableArrayInput`,
   `quantize`, `x @ W + b`, `relu`, `FixedVariable.msb_mux` for LeakyReLU), traces it
   with `comb_trace`, writes Verilog with `VerilogModel` at a few latency cutoffs, and
   synthesizes it with the very script balerc uses
   (`synth_xilinx -family xcup -flatten -top TOP`, cells counted from `stat`);
4. checks the outputs on random in-range inputs: balerc's bit-exact simulator
   (`balerc simulate --raw`), a numpy integer reference written here, da4ml's two
   interpreters (`CombLogic.predict`, C++, and `CombLogic.__call__`, Python), and an
   iverilog run of da4ml's pipelined Verilog;
5. prints markdown tables and writes `results.json` in the work directory.

Precision everywhere: `ap_fixed<16,6>` (truncation, wrap). Weights and biases are
`floor(w * 1024)` codes; every layer result is `floor` to 10 fractional bits, then wrapped
to 16 bits (da4ml: `quantize(x, 1, 5, 10, 'WRAP', 'TRN')`). Activations act on the exact
accumulator before that cast, as in balerc; LeakyReLU's alpha is
`floor(alpha * 2**17) / 2**17`, as balerc holds it.

Usage (from the repository root, after `cargo build --release` and `pip install da4ml onnx`):

    python3 benches/compare/da4ml_compare.py                   # both models, everything
    python3 benches/compare/da4ml_compare.py --models fpga     # the small one only (~8 min)
    python3 benches/compare/da4ml_compare.py --models ae --synth first   # ~2.5 h on 2 cores

Needs yosys (0.23 was used) and iverilog on PATH. Nothing here is da4ml's code: the
script only calls da4ml's public API.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[2]
BALERC = REPO / 'target' / 'release' / 'balerc'
PRECISION = 'ap_fixed<16,6>'
FRAC = 10  # fractional bits of ap_fixed<16,6>
WIDTH = 16
ALPHA_FRAC = 17  # balerc holds LeakyReLU's alpha with 17 fractional bits


@dataclass
class ModelSpec:
    key: str
    onnx: str
    part: str | None  # balerc --part
    n_gemm: int  # how many Gemm layers (from the input) make the network
    balerc_settings: list[tuple[str, list[str]]]
    da4ml_cutoffs: list[float]
    label: str = ''
    rtl_vectors: int = 200  # default for --rtl-vectors (iverilog is very slow on the large design)


MODELS = {
    'fpga': ModelSpec(
        key='fpga',
        label='fpga_encoder 16-20-10-8 (ReLU)',
        onnx='compiler/tests/fixtures/fpga_encoder_ts13.onnx',
        part=None,
        n_gemm=3,
        balerc_settings=[
            ('shift-add, --clock-ns 5', ['--multipliers', 'shift-add', '--clock-ns', '5']),
            ('shift-add, --adder-levels-per-stage 100', ['--multipliers', 'shift-add', '--adder-levels-per-stage', '100']),
            ('dsp, --clock-ns 5', ['--multipliers', 'dsp', '--clock-ns', '5']),
            ('dsp, --adder-levels-per-stage 100', ['--multipliers', 'dsp', '--adder-levels-per-stage', '100']),
        ],
        da4ml_cutoffs=[5, 11, 1000],
        rtl_vectors=1000,
    ),
    'ae': ModelSpec(
        key='ae',
        label='baler_ae encoder 24-200-100-50-15 (LeakyReLU 0.01)',
        onnx='compiler/tests/fixtures/baler_ae_ts13.onnx',
        part='encoder',
        n_gemm=4,
        balerc_settings=[
            ('shift-add, --clock-ns 5', ['--multipliers', 'shift-add', '--clock-ns', '5']),
            ('shift-add, --adder-levels-per-stage 100', ['--multipliers', 'shift-add', '--adder-levels-per-stage', '100']),
            ('dsp, --clock-ns 5', ['--multipliers', 'dsp', '--clock-ns', '5']),
        ],
        da4ml_cutoffs=[5],
        rtl_vectors=0,
    ),
}


@dataclass
class Layer:
    name: str
    weight: np.ndarray  # float, [out, in]
    bias: np.ndarray  # float, [out]
    activation: str | None  # None, 'Relu', 'LeakyRelu'
    alpha: float = 0.0

    @property
    def w_codes(self) -> np.ndarray:
        return np.floor(self.weight.astype(np.float64) * 2**FRAC).astype(np.int64)

    @property
    def b_codes(self) -> np.ndarray:
        return np.floor(self.bias.astype(np.float64) * 2**FRAC).astype(np.int64)

    @property
    def alpha_code(self) -> int:
        return int(np.floor(np.float64(self.alpha) * 2**ALPHA_FRAC))


@dataclass
class Row:
    model: str
    tool: str
    setting: str
    latency_cycles: int | None = None
    adders: int | None = None
    lut: int | None = None
    ff: int | None = None
    carry: int | None = None
    dsp: int | None = None
    gen_seconds: float | None = None
    synth_seconds: float | None = None
    extra: dict = field(default_factory=dict)


def log(msg: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- ONNX


def read_layers(spec: ModelSpec) -> list[Layer]:
    model = onnx.load(str(REPO / spec.onnx))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = list(model.graph.node)
    layers: list[Layer] = []
    for i, node in enumerate(nodes):
        if node.op_type != 'Gemm':
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get('alpha', 1.0) != 1.0 or attrs.get('beta', 1.0) != 1.0 or attrs.get('transA', 0) != 0:
            raise SystemExit(f'{node.name}: only Gemm with alpha=beta=1, transA=0 is handled')
        weight = init[node.input[1]]
        if not attrs.get('transB', 0):
            weight = weight.T
        bias = init[node.input[2]] if len(node.input) > 2 else np.zeros(weight.shape[0], np.float32)
        act, alpha = None, 0.0
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        if nxt is not None and nxt.op_type in ('Relu', 'LeakyRelu') and nxt.input[0] == node.output[0]:
            act = nxt.op_type
            if act == 'LeakyRelu':
                alpha = float({a.name: onnx.helper.get_attribute_value(a) for a in nxt.attribute}.get('alpha', 0.01))
        layers.append(Layer(node.name, weight, bias, act, alpha))
    return layers[: spec.n_gemm]


def reference(layers: list[Layer], x_codes: np.ndarray) -> np.ndarray:
    """Integer reference: exact accumulator, activation, floor to 10 bits, wrap to 16."""
    x = x_codes.astype(np.int64)
    for layer in layers:
        acc = x @ layer.w_codes.T + (layer.b_codes << FRAC)  # 2*FRAC fractional bits
        if layer.activation == 'Relu':
            y = np.maximum(acc, 0) >> FRAC
        elif layer.activation == 'LeakyRelu':
            y = np.where(acc < 0, (acc * layer.alpha_code) >> (FRAC + ALPHA_FRAC), acc >> FRAC)
        else:
            y = acc >> FRAC
        x = (y + 2 ** (WIDTH - 1)) % 2**WIDTH - 2 ** (WIDTH - 1)
    return x


def overflow_fraction(layers: list[Layer], x_codes: np.ndarray) -> float:
    """Share of layer results that wrap (so the wrap semantics are really exercised)."""
    x = x_codes.astype(np.int64)
    wrapped = total = 0
    for layer in layers:
        acc = x @ layer.w_codes.T + (layer.b_codes << FRAC)
        if layer.activation == 'Relu':
            y = np.maximum(acc, 0) >> FRAC
        elif layer.activation == 'LeakyRelu':
            y = np.where(acc < 0, (acc * layer.alpha_code) >> (FRAC + ALPHA_FRAC), acc >> FRAC)
        else:
            y = acc >> FRAC
        wrapped += int(np.sum((y < -(2 ** (WIDTH - 1))) | (y >= 2 ** (WIDTH - 1))))
        total += y.size
        x = (y + 2 ** (WIDTH - 1)) % 2**WIDTH - 2 ** (WIDTH - 1)
    return wrapped / total


# ----------------------------------------------------------------------------- yosys


def parse_stat(text: str) -> dict:
    """Cell counts from yosys `stat`, counted as balerc's testbench crate counts them."""
    section = text.rsplit('=== design hierarchy ===', 1)[-1]
    after = section.rsplit('Number of cells:', 1)[1]
    cells: dict[str, int] = {}
    for line in after.splitlines()[1:]:
        fields = line.split()
        if len(fields) != 2:
            break
        try:
            cells[fields[0]] = cells.get(fields[0], 0) + int(fields[1])
        except ValueError:
            break
    return {
        'lut': sum(c for n, c in cells.items() if re.fullmatch(r'LUT[1-6](_2)?', n)),
        'ff': sum(c for n, c in cells.items() if re.fullmatch(r'FD[RSCP]E(_1)?', n)),
        'carry': sum(c for n, c in cells.items() if n in ('CARRY4', 'CARRY8')),
        'dsp': sum(c for n, c in cells.items() if n.startswith('DSP')),
        'cells': cells,
    }


def yosys_synth(sources: list[Path], top: str, work: Path) -> tuple[dict, float]:
    """The script balerc's `report --synthesize` runs, on other sources."""
    work.mkdir(parents=True, exist_ok=True)
    script = ''.join(f'read_verilog "{s.resolve()}"\n' for s in sources)
    script += f'synth_xilinx -family xcup -flatten -top {top}\ntee -q -o stat.txt stat\n'
    (work / 'synth.ys').write_text(script)
    t0 = time.time()
    subprocess.run(['yosys', '-q', '-l', 'yosys.log', '-s', 'synth.ys'], cwd=work, check=True)
    return parse_stat((work / 'stat.txt').read_text()), time.time() - t0


# ----------------------------------------------------------------------------- balerc


def balerc_model_args(spec: ModelSpec) -> list[str]:
    args = [str(REPO / spec.onnx), '--precision', PRECISION]
    if spec.part:
        args += ['--part', spec.part]
    return args


def run_balerc(spec: ModelSpec, setting: str, extra: list[str], out: Path, synth: bool) -> Row:
    if out.exists():
        shutil.rmtree(out)
    cmd = [str(BALERC), 'lower', *balerc_model_args(spec), '--target', 'verilog', '--out', str(out), *extra]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gen = time.time() - t0
    row = Row(spec.label, 'balerc', setting, gen_seconds=gen)
    if synth:
        t0 = time.time()
        subprocess.run([str(BALERC), 'report', str(out), '--synthesize'], check=True, stdout=subprocess.DEVNULL)
        row.synth_seconds = time.time() - t0
    report = json.loads((out / 'report.json').read_text())
    row.latency_cycles = report['latency_cycles']
    row.adders = report['resources']['adders']
    row.extra['adder_bits'] = report['resources']['adder_bits']
    row.extra['register_bits'] = report['resources']['register_bits']
    ys = report['resources'].get('yosys')
    if ys:
        row.lut, row.ff, row.carry, row.dsp = ys['lut'], ys['ff'], ys['carry'], ys['dsp']
        row.extra['cells'] = parse_stat((out / 'synth' / 'stat.txt').read_text())['cells']
    return row


def check_balerc_codes(layers: list[Layer], out: Path) -> None:
    """The codes computed here must be the ones balerc uses (same quantization)."""
    q = json.loads((out / 'quantized.json').read_text())
    for layer, ql in zip(layers, q['layers']):
        lin = ql['op']['Dense']['linear']
        assert np.array_equal(np.array(lin['weight']['codes']), layer.w_codes.ravel()), f'{layer.name}: weight codes'
        assert np.array_equal(np.array(lin['bias']['codes']), layer.b_codes), f'{layer.name}: bias codes'
        act = lin['activation']
        if layer.activation == 'LeakyRelu':
            assert act['LeakyRelu']['alpha'] == layer.alpha_code, f'{layer.name}: alpha code'


def balerc_simulate(spec: ModelSpec, x: np.ndarray, work: Path) -> np.ndarray:
    xin, yout = work / 'x.npy', work / 'y_balerc.npy'
    np.save(xin, x)
    cmd = [str(BALERC), 'simulate', *balerc_model_args(spec), '--input', str(xin), '--output', str(yout), '--raw']
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return np.load(yout)


# ----------------------------------------------------------------------------- da4ml


def da4ml_trace(layers: list[Layer], solver_options: dict):
    """The network on da4ml's symbolic fixed-point arrays; returns (CombLogic, seconds)."""
    from da4ml.trace import FixedVariableArray, FixedVariableArrayInput, comb_trace
    from da4ml.trace.ops import quantize, relu

    t0 = time.time()
    inp = FixedVariableArrayInput(layers[0].weight.shape[1], solver_options=solver_options)
    x = quantize(inp, 1, WIDTH - FRAC - 1, FRAC)  # ap_fixed<16,6>: sign, 5 integer, 10 fraction bits
    for layer in layers:
        w = layer.w_codes.T / 2**FRAC  # [in, out], exact in float
        b = layer.b_codes / 2**FRAC
        acc = x @ w + b  # CMVM: shift-add network, exact
        if layer.activation == 'Relu':
            acc = relu(acc)  # on the exact accumulator
        elif layer.activation == 'LeakyRelu':
            alpha = layer.alpha_code / 2**ALPHA_FRAC
            flat = acc._vars.ravel()
            # If the sign bit is set take alpha * acc (exact, shift-add), else acc.
            muxed = np.array([v.msb_mux(v * alpha, v) for v in flat], dtype=object).reshape(acc.shape)
            acc = FixedVariableArray(muxed, acc.solver_options, hwconf=acc.hwconf)
        x = quantize(acc, 1, WIDTH - FRAC - 1, FRAC, 'WRAP', 'TRN')  # floor, wrap to ap_fixed<16,6>
    comb = comb_trace(inp, x)
    return comb, time.time() - t0


def da4ml_adders(comb) -> dict:
    ops = [op.opcode for op in comb.ops]
    return {
        'adders': sum(1 for o in ops if o in (0, 1)),  # two-operand shift-add/sub
        'const_adders': sum(1 for o in ops if o == 4),  # + bias constant
        'muxes': sum(1 for o in ops if abs(o) == 6),
        'relus': sum(1 for o in ops if abs(o) == 2),
    }


def da4ml_sources(path: Path, top: str) -> list[Path]:
    src = path / 'src'
    own = [src / f'{top}.v', *sorted(src.glob(f'{top}_stage*.v'))]
    text = ''.join(p.read_text() for p in own)
    static = [p for p in sorted((src / 'static').glob('*.v')) if re.search(rf'\b{p.stem}\b', text)]
    return own + static


def run_da4ml(spec: ModelSpec, comb, trace_s: float, cutoff: float, out: Path, synth: bool, setting: str) -> Row:
    from da4ml.codegen import VerilogModel

    if out.exists():
        shutil.rmtree(out)
    t0 = time.time()
    model = VerilogModel(comb, 'top', out, latency_cutoff=cutoff, print_latency=False)
    model.write()
    write_s = time.time() - t0
    meta = json.loads((out / 'metadata.json').read_text())
    stages = meta.get('latency', 0)
    row = Row(spec.label, 'da4ml', setting, gen_seconds=trace_s + write_s)
    # Registers: model_inp -> stage0_inp, one per stage boundary, stage_last -> model_out.
    row.latency_cycles = stages + 1 if stages else 0
    counts = da4ml_adders(comb)
    row.adders = counts['adders'] + counts['const_adders']
    row.extra.update(counts)
    row.extra.update(stages=stages, est_lut=meta['cost'], est_reg_bits=meta.get('reg_bits'), trace_s=trace_s, write_s=write_s)
    row.extra['sources'] = [str(p) for p in da4ml_sources(out, 'top')]
    if synth:
        res, secs = yosys_synth(da4ml_sources(out, 'top'), 'top', out / 'synth')
        row.lut, row.ff, row.carry, row.dsp = res['lut'], res['ff'], res['carry'], res['dsp']
        row.extra['cells'] = res['cells']
        row.synth_seconds = secs
    return row


def pack_hex(codes: np.ndarray, widths: list[int]) -> list[str]:
    lines = []
    for row in codes:
        v, off = 0, 0
        for c, w in zip(row, widths):
            v |= (int(c) & ((1 << w) - 1)) << off
            off += w
        lines.append(format(v, 'x'))
    return lines


def da4ml_rtl_sim(sources: list[Path], top: str, comb, x_codes: np.ndarray, latency: int, work: Path) -> np.ndarray:
    """Clock da4ml's pipelined Verilog in iverilog; outputs as 2^-10 codes (a failing
    latency shows up as X, turned into a value no code can have)."""
    from da4ml.types import minimal_kif

    work.mkdir(parents=True, exist_ok=True)
    ikif = [minimal_kif(q) for q in comb.inp_qint]
    okif = [minimal_kif(q) for q in comb.out_qint]
    iw, ow = [sum(k) for k in ikif], [sum(k) for k in okif]
    assert all(k[2] == FRAC for k in ikif), 'inputs are expected with 10 fractional bits'
    (work / 'in.hex').write_text('\n'.join(pack_hex(x_codes, iw)) + '\n')
    n = len(x_codes)
    tb = f"""`timescale 1ns/1ps
module tb;
  reg clk = 0;
  reg [{sum(iw) - 1}:0] mem [0:{n - 1}];
  reg [{sum(iw) - 1}:0] inp;
  wire [{sum(ow) - 1}:0] out;
  {top} dut(.clk(clk), .model_inp(inp), .model_out(out));
  integer i, f;
  initial begin
    $readmemh("in.hex", mem);
    f = $fopen("out.hex", "w");
    for (i = 0; i < {n + latency - 1}; i = i + 1) begin
      inp = mem[i < {n} ? i : {n - 1}];
      #1 clk = 1; #1 clk = 0;
      if (i >= {latency - 1}) $fwrite(f, "%h\\n", out);
    end
    $fclose(f);
    $finish;
  end
endmodule
"""
    (work / 'tb.v').write_text(tb)
    subprocess.run(['iverilog', '-g2012', '-o', 'sim.vvp', '-s', 'tb', 'tb.v', *map(str, sources)], cwd=work, check=True)
    subprocess.run(['vvp', '-n', 'sim.vvp'], cwd=work, check=True, stdout=subprocess.DEVNULL)
    out = np.zeros((n, len(ow)), dtype=np.int64)
    for s, line in enumerate((work / 'out.hex').read_text().split()):
        if any(c in line for c in 'xXzZ'):
            out[s, :] = -(1 << 40)
            continue
        v, off = int(line, 16), 0
        for j, (w, k) in enumerate(zip(ow, okif)):
            raw = (v >> off) & ((1 << w) - 1)
            off += w
            if k[0] and raw >= 1 << (w - 1):
                raw -= 1 << w
            out[s, j] = raw << (FRAC - k[2]) if k[2] <= FRAC else raw >> (k[2] - FRAC)
    return out


# ----------------------------------------------------------------------------- main


def fmt(v) -> str:
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.2f}' if v < 100 else f'{v:.0f}'
    return str(v)


def markdown(rows: list[Row]) -> str:
    head = '| model | tool | setting | latency (cycles) | adders | LUT | FF | CARRY | DSP | generation (s) |'
    lines = [head, '|' + '---|' * 10]
    for r in rows:
        lines.append(
            f'| {r.model} | {r.tool} | {r.setting} | {fmt(r.latency_cycles)} | {fmt(r.adders)} | {fmt(r.lut)} | '
            f'{fmt(r.ff)} | {fmt(r.carry)} | {fmt(r.dsp)} | {fmt(r.gen_seconds)} |'
        )
    return '\n'.join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--models', default='fpga,ae', help='comma-separated: fpga, ae')
    ap.add_argument('--work', type=Path, default=Path('/tmp/balerc_da4ml_compare'), help='scratch directory')
    ap.add_argument('--samples', type=int, default=1000, help='random inputs for the functional check')
    ap.add_argument('--rtl-vectors', type=int, default=None,
                    help="of those, how many go through da4ml's Verilog in iverilog (default: 1000 for fpga, 0 for ae)")
    ap.add_argument('--synth', choices=('all', 'first', 'none'), default='all',
                    help='yosys for every setting, for the first setting of each tool per model, or none')
    ap.add_argument('--hard-dc', type=int, default=2, help="da4ml's CMVM delay constraint (its CLI's default is 2)")
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()

    import da4ml

    versions = {
        'da4ml': da4ml.__version__,
        'balerc': subprocess.run([str(BALERC), '--version'], capture_output=True, text=True).stdout.strip(),
        'yosys': subprocess.run(['yosys', '-V'], capture_output=True, text=True).stdout.strip(),
        'iverilog': subprocess.run(['iverilog', '-V'], capture_output=True, text=True).stdout.splitlines()[0],
        'python': sys.version.split()[0],
        'numpy': np.__version__,
        'onnx': onnx.__version__,
    }
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    checks: dict[str, dict] = {}
    for key in args.models.split(','):
        spec = MODELS[key]
        layers = read_layers(spec)
        log(f'{spec.label}: ' + ' -> '.join(str(l.weight.shape[1]) for l in layers) + f' -> {layers[-1].weight.shape[0]}')
        work = args.work / key
        work.mkdir(parents=True, exist_ok=True)

        # balerc
        for i, (setting, extra) in enumerate(spec.balerc_settings):
            log(f'balerc {setting}')
            row = run_balerc(spec, setting, extra, work / f'balerc_{i}', synth=args.synth == 'all' or (args.synth == 'first' and i == 0))
            if i == 0:
                check_balerc_codes(layers, work / f'balerc_{i}')
            rows.append(row)
            log(f'  -> {row.latency_cycles} cycles, {row.adders} adders, LUT {row.lut}, gen {row.gen_seconds:.2f}s')

        # da4ml
        log(f'da4ml trace (hard_dc={args.hard_dc})')
        comb, trace_s = da4ml_trace(layers, {'hard_dc': args.hard_dc})
        log(f'  traced in {trace_s:.1f}s, {len(comb.ops)} ops')
        da_rows = []
        for i, cutoff in enumerate(spec.da4ml_cutoffs):
            setting = f'latency_cutoff={cutoff:g}' + (' (default)' if cutoff == 5 else '') + f', hard_dc={args.hard_dc}'
            log(f'da4ml {setting}')
            row = run_da4ml(spec, comb, trace_s, cutoff, work / f'da4ml_lc{cutoff:g}',
                            synth=args.synth == 'all' or (args.synth == 'first' and i == 0), setting=setting)
            rows.append(row)
            da_rows.append(row)
            log(f'  -> {row.latency_cycles} cycles, {row.adders} adders, LUT {row.lut}')

        # functional agreement
        rng = np.random.default_rng(args.seed)
        n_in = layers[0].weight.shape[1]
        x_codes = rng.integers(-(2 ** (WIDTH - 1)), 2 ** (WIDTH - 1), size=(args.samples, n_in))
        x = (x_codes / 2**FRAC).astype(np.float32)  # exact multiples of 2^-10 in [-32, 32)
        ref = reference(layers, x_codes)
        y_balerc = balerc_simulate(spec, x, work)
        y_cpp = np.round(comb.predict(x.astype(np.float64)) * 2**FRAC).astype(np.int64)
        t0 = time.time()
        y_py = np.array([np.asarray(comb(v), dtype=np.float64) for v in x.astype(np.float64)])
        y_py = np.round(y_py * 2**FRAC).astype(np.int64)
        py_s = time.time() - t0
        chk = {
            'samples': args.samples,
            'wrapped_results_share': overflow_fraction(layers, x_codes),
            'balerc_simulate_vs_reference': int(np.sum(y_balerc != ref)),
            'da4ml_predict_cpp_vs_balerc': int(np.sum(y_cpp != y_balerc)),
            'da4ml_predict_cpp_rows_differing': int(np.sum(np.any(y_cpp != y_balerc, axis=1))),
            'da4ml_call_python_vs_balerc': int(np.sum(y_py != y_balerc)),
            'python_interp_seconds': py_s,
            'outputs_compared': int(y_balerc.size),
        }
        n_rtl = spec.rtl_vectors if args.rtl_vectors is None else args.rtl_vectors
        if n_rtl:
            n = min(n_rtl, args.samples)
            row = da_rows[0]
            log(f'iverilog on da4ml {row.setting} ({n} vectors, latency {row.latency_cycles})')
            y_rtl = da4ml_rtl_sim([Path(p) for p in row.extra['sources']], 'top', comb, x_codes[:n], row.latency_cycles, work / 'rtl_sim')
            chk['da4ml_rtl_vectors'] = n
            chk['da4ml_rtl_vs_balerc'] = int(np.sum(y_rtl != y_balerc[:n]))
        checks[spec.label] = chk
        log(f'  checks: {chk}')

    for r in rows:
        r.extra.pop('sources', None)
    result = {'versions': versions, 'rows': [r.__dict__ for r in rows], 'checks': checks}
    (args.work / 'results.json').write_text(json.dumps(result, indent=1, default=str))
    print('## Versions\n')
    for k, v in versions.items():
        print(f'- {k}: {v}')
    print('\n## Resources (yosys synth_xilinx -family xcup -flatten)\n')
    print(markdown(rows))
    print('\n## Functional agreement (codes of ap_fixed<16,6>)\n')
    print('| model | samples | wrapped results | balerc simulate vs numpy reference | da4ml CombLogic.predict (C++) vs balerc | '
          'da4ml CombLogic.__call__ (Python) vs balerc | da4ml Verilog (iverilog) vs balerc |')
    print('|' + '---|' * 7)
    for label, c in checks.items():
        rtl = f"{c['da4ml_rtl_vs_balerc']} / {c['da4ml_rtl_vectors'] * (c['outputs_compared'] // c['samples'])}" if 'da4ml_rtl_vs_balerc' in c else '-'
        print(f"| {label} | {c['samples']} | {100 * c['wrapped_results_share']:.1f}% | {c['balerc_simulate_vs_reference']} / {c['outputs_compared']} | "
              f"{c['da4ml_predict_cpp_vs_balerc']} / {c['outputs_compared']} | {c['da4ml_call_python_vs_balerc']} / {c['outputs_compared']} | {rtl} |")
    print(f'\n(results.json in {args.work})')


if __name__ == '__main__':
    main()

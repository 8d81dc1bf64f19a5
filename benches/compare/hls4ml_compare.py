#!/usr/bin/env python3
"""balerc against hls4ml on the same weights, the same precision and the same inputs.

Models (ONNX fixtures in compiler/tests/fixtures):

* `fpga_encoder`: Baler's FPGA prototype encoder 16-20-10-8 with ReLU
  (`fpga_encoder_ts13.onnx`);
* `conv2d_ae`: the conv autoencoder (`conv2d_ae_ts17.onnx`: Conv2d, ReLU, Conv2d, ReLU,
  Flatten, Linear | Linear, ReLU, Unflatten, ConvTranspose2d, ReLU, ConvTranspose2d,
  Sigmoid). hls4ml 1.3.0 has no ConvTranspose2d, so the script records the conversion
  error for the whole model and measures the encoder half (Conv2d-ReLU-Conv2d-ReLU-
  Flatten-Linear; balerc `--part encoder`).

For each model, at `ap_fixed<16,6>` everywhere:

1. hls4ml: a torch.nn.Sequential rebuilt from the ONNX initializers, converted with
   `config_from_pytorch_model(..., default_precision='ap_fixed<16,6>', granularity='model')`
   and `convert_from_pytorch_model(..., backend='Vivado', io_type='io_parallel')`; times
   the conversion, `compile()` (writes the project and runs g++) and `predict()` on 1000
   samples (the fixture's input rows repeated).
2. balerc: times `lower --target hls` (lowering + writing the HLS project), `cosim
   --simulator gxx --vectors 1000` (g++ build + run of the C simulation; the seconds are
   balerc's own figures) and `simulate` (the Rust bit-exact simulator) on the same 1000
   samples.
3. Agreement: the fraction of output values of hls4ml's `predict` identical to
   `balerc simulate`'s, with balerc's default exact accumulator and with
   `accumulator = "ap_fixed<16,6>"` (hls4ml's default: its accum_t is the model precision).

Usage (from the repository root, after `cargo build --release`; needs hls4ml, torch,
onnx and g++):

    python3 benches/compare/hls4ml_compare.py [--work DIR] [--samples 1000]

Prints a markdown table and writes `results.json` in the work directory. Deterministic:
fixed inputs, no randomness except balerc cosim's random vectors (fixed seed 1).
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
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import hls4ml

REPO = Path(__file__).resolve().parents[2]
BALERC = REPO / 'target' / 'release' / 'balerc'
FIX = REPO / 'compiler' / 'tests' / 'fixtures'
PRECISION = 'ap_fixed<16,6>'
REPEATS = 3  # predict and simulate: best of 3 runs
AP_TYPES = Path(hls4ml.__file__).parent / 'templates' / 'vivado' / 'ap_types'


def initializers(onnx_path: Path) -> dict[str, np.ndarray]:
    m = onnx.load(str(onnx_path))
    return {i.name: numpy_helper.to_array(i).copy() for i in m.graph.initializer}


def t(a) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(np.asarray(a, dtype=np.float32)))


def set_layer(layer, w, b):
    layer.weight = t(w)
    layer.bias = t(b)


def fpga_encoder() -> torch.nn.Module:
    w = initializers(FIX / 'fpga_encoder_ts13.onnx')
    net = torch.nn.Sequential(
        torch.nn.Linear(16, 20), torch.nn.ReLU(),
        torch.nn.Linear(20, 10), torch.nn.ReLU(),
        torch.nn.Linear(10, 8))
    for i in (0, 2, 4):  # Gemm weights are [out, in], as torch's
        set_layer(net[i], w[f'{i}.weight'], w[f'{i}.bias'])
    return net.eval()


def conv_ae(encoder_only: bool) -> torch.nn.Module:
    w = initializers(FIX / 'conv2d_ae_ts17.onnx')
    enc = [
        torch.nn.Conv2d(1, 4, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(128, 10)]
    set_layer(enc[0], w['onnx::Conv_51'], w['onnx::Conv_52'])  # BatchNorm-folded conv
    set_layer(enc[2], w['encoder.3.weight'], w['encoder.3.bias'])
    set_layer(enc[5], w['encoder.6.weight'], w['encoder.6.bias'])
    if encoder_only:
        return torch.nn.Sequential(*enc).eval()
    dec = [
        torch.nn.Linear(10, 128), torch.nn.ReLU(), torch.nn.Unflatten(1, (8, 4, 4)),
        torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),
        torch.nn.Sigmoid()]
    set_layer(dec[0], w['decoder.0.weight'], w['decoder.0.bias'])
    set_layer(dec[3], w['decoder.3.weight'], w['decoder.3.bias'])
    set_layer(dec[5], w['decoder.5.weight'], w['decoder.5.bias'])
    return torch.nn.Sequential(*enc, *dec).eval()


def check_float(net, fixture: str, label: str):
    """The rebuilt full model must reproduce onnxruntime's outputs stored with the fixture."""
    x = np.load(FIX / f'{fixture}.input.npy').astype(np.float32)
    ref = np.load(FIX / f'{fixture}.ort.npy')
    with torch.no_grad():
        y = net(torch.tensor(x)).numpy()
    err = float(np.max(np.abs(y - ref)))
    print(f'[{label}] torch rebuild vs onnxruntime: max |diff| = {err:.2e}', file=sys.stderr)
    assert err < 1e-4, err


def run(cmd, env=None) -> tuple[str, float]:
    t0 = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    out = p.stdout + p.stderr
    if p.returncode != 0:
        raise RuntimeError(f'{cmd} failed:\n{out}')
    return out, dt


def hls4ml_measure(net, input_shape, x, outdir: Path) -> dict:
    if outdir.exists():
        shutil.rmtree(outdir)
    t0 = time.perf_counter()
    cfg = hls4ml.utils.config_from_pytorch_model(
        net, input_shape, default_precision=PRECISION, granularity='model')
    hm = hls4ml.converters.convert_from_pytorch_model(
        net, hls_config=cfg, output_dir=str(outdir), backend='Vivado', io_type='io_parallel')
    convert = time.perf_counter() - t0
    t0 = time.perf_counter()
    hm.compile()
    compile_s = time.perf_counter() - t0
    xc = np.ascontiguousarray(x)
    predict = float('inf')
    for _ in range(REPEATS):  # best of REPEATS
        t0 = time.perf_counter()
        y = hm.predict(xc)
        predict = min(predict, time.perf_counter() - t0)
    return {'convert_s': convert, 'compile_s': compile_s, 'predict_s': predict,
            'y': np.asarray(y, dtype=np.float64).reshape(len(x), -1)}


def hls4ml_try(net, input_shape, outdir: Path) -> str | None:
    """Try converting a model; return the error text, or None if it converts."""
    try:
        cfg = hls4ml.utils.config_from_pytorch_model(
            net, input_shape, default_precision=PRECISION, granularity='model')
        hls4ml.converters.convert_from_pytorch_model(
            net, hls_config=cfg, output_dir=str(outdir), backend='Vivado',
            io_type='io_parallel')
        return None
    except Exception as e:  # noqa: BLE001 -- we report whatever hls4ml raises
        return f'{type(e).__name__}: {e}'.strip()


def balerc_measure(name, onnx_path, part, xfile: Path, work: Path, pconf: Path) -> dict:
    env = dict(os.environ, AP_TYPES_INCLUDE=str(AP_TYPES))
    prj = work / f'balerc_{name}'
    if prj.exists():
        shutil.rmtree(prj)
    partargs = ['--part', part]
    r = {}
    out, dt = run([BALERC, 'lower', onnx_path, *partargs, '--precision', PRECISION,
                   '--target', 'hls', '--out', prj], env)
    r['lower_s'] = dt
    r['lower_internal_ms'] = float(re.search(r'lowered .* in ([\d.]+) ms', out).group(1))
    r['write_internal_ms'] = float(re.search(r'wrote .* in ([\d.]+) ms', out).group(1))
    out, dt = run([BALERC, 'cosim', prj, '--simulator', 'gxx', '--vectors', '1000'], env)
    m = re.search(r'build ([\d.]+) s, run ([\d.]+) s', out)
    r['cosim_wall_s'] = dt
    r['cosim_build_s'], r['cosim_run_s'] = float(m.group(1)), float(m.group(2))
    r['cosim_line'] = out.strip().splitlines()[-1]
    r['cosim_ok'] = 'every output code equals' in out
    for tag, prec in (('exact', ['--precision', PRECISION]), ('acc16', ['--config', pconf])):
        yfile = work / f'{name}_balerc_{tag}.npy'
        r[f'simulate_{tag}_wall_s'] = float('inf')
        r[f'simulate_{tag}_sps'] = 0.0
        for _ in range(REPEATS):  # best of REPEATS
            out, dt = run([BALERC, 'simulate', onnx_path, *partargs, *prec,
                           '--input', xfile, '--output', yfile], env)
            r[f'simulate_{tag}_wall_s'] = min(r[f'simulate_{tag}_wall_s'], dt)
            sps = float(re.search(r'\((\d+) samples/s\)', out).group(1))
            r[f'simulate_{tag}_sps'] = max(r[f'simulate_{tag}_sps'], sps)
        r[f'y_{tag}'] = np.load(yfile).astype(np.float64).reshape(len(np.load(xfile)), -1)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--work', type=Path, default=Path('/tmp/balerc_hls4ml_compare'))
    ap.add_argument('--samples', type=int, default=1000)
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if not BALERC.exists():
        sys.exit(f'{BALERC} missing: run `cargo build --release` first')
    pconf = work / 'p.toml'
    pconf.write_text(f'default = "{PRECISION}"\naccumulator = "{PRECISION}"\n')

    torch.manual_seed(0)
    check_float(conv_ae(encoder_only=False), 'conv2d_ae_ts17', 'conv2d_ae')
    full_err = hls4ml_try(conv_ae(encoder_only=False), (1, 16, 16), work / 'hls4ml_conv2d_ae_full')
    print(f'[conv2d_ae] hls4ml on the full autoencoder: {full_err or "converted"}',
          file=sys.stderr)
    # The full model stops at Unflatten; probe the decoder's ConvTranspose2d on its own.
    ct = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)).eval()
    ct_err = hls4ml_try(ct, (8, 4, 4), work / 'hls4ml_convtranspose2d')
    print(f'[conv2d_ae] hls4ml on ConvTranspose2d alone: {ct_err or "converted"}',
          file=sys.stderr)

    models = [
        # name, onnx, balerc --part, torch model, input shape (no batch), fixture
        ('fpga_encoder', FIX / 'fpga_encoder_ts13.onnx', 'full', fpga_encoder(), (16,),
         'fpga_encoder_ts13'),
        ('conv2d_ae_encoder', FIX / 'conv2d_ae_ts17.onnx', 'encoder', conv_ae(True),
         (1, 16, 16), 'conv2d_ae_ts17'),
    ]
    check_float(models[0][3], 'fpga_encoder_ts13', 'fpga_encoder')

    results = {'versions': {
        'hls4ml': hls4ml.__version__, 'torch': torch.__version__, 'onnx': onnx.__version__,
        'numpy': np.__version__, 'python': sys.version.split()[0],
        'balerc': run([BALERC, '--version'])[0].strip(),
        'g++': run(['g++', '--version'])[0].splitlines()[0]},
        'hls4ml_full_conv2d_ae': full_err, 'hls4ml_convtranspose2d': ct_err, 'models': {}}
    rows = []
    for name, onnx_path, part, net, shape, fixture in models:
        x = np.load(FIX / f'{fixture}.input.npy').astype(np.float32)
        x = np.resize(x, (args.samples, *shape)).astype(np.float32)  # repeat the rows
        xfile = work / f'{name}_x.npy'
        np.save(xfile, x)
        print(f'[{name}] hls4ml ...', file=sys.stderr)
        h = hls4ml_measure(net, shape, x, work / f'hls4ml_{name}')
        print(f'[{name}] balerc ...', file=sys.stderr)
        b = balerc_measure(name, onnx_path, part, xfile, work, pconf)
        with torch.no_grad():
            yf = net(torch.tensor(x)).numpy().astype(np.float64).reshape(len(x), -1)
        agree = {tag: float(np.mean(h['y'] == b[f'y_{tag}'])) for tag in ('exact', 'acc16')}
        lsb = 2.0 ** -10
        maxdiff = {tag: float(np.max(np.abs(h['y'] - b[f'y_{tag}'])) / lsb)
                   for tag in ('exact', 'acc16')}
        res = {k: v for k, v in {**h, **b}.items() if not k.startswith('y')}
        res.update(agree=agree, max_diff_lsb=maxdiff,
                   hls4ml_vs_float_max=float(np.max(np.abs(h['y'] - yf))),
                   balerc_exact_vs_float_max=float(np.max(np.abs(b['y_exact'] - yf))),
                   balerc_acc16_vs_float_max=float(np.max(np.abs(b['y_acc16'] - yf))),
                   outputs_per_sample=int(h['y'].shape[1]))
        results['models'][name] = res
        rows.append((name, res))

    (work / 'results.json').write_text(json.dumps(results, indent=2))

    n = args.samples
    print(f'\nVersions: ' + ', '.join(f'{k} {v}' for k, v in results['versions'].items()))
    print(f'\nAll at `{PRECISION}`, {n} samples, wall-clock seconds on this machine.\n')
    print('| model | hls4ml convert | hls4ml compile (write + g++) | hls4ml predict | '
          'balerc lower + write HLS | balerc cosim g++ build | balerc cosim run (1000 vec) | '
          'balerc simulate (exact acc) | balerc simulate (acc 16,6) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, r in rows:
        print(f"| {name} | {r['convert_s']:.3f} s | {r['compile_s']:.2f} s | "
              f"{r['predict_s']*1e3:.1f} ms ({n / r['predict_s']:,.0f}/s) | "
              f"{r['lower_s']*1e3:.0f} ms (internal {r['lower_internal_ms']:.1f} + "
              f"{r['write_internal_ms']:.1f} ms) | {r['cosim_build_s']:.2f} s | "
              f"{r['cosim_run_s']:.2f} s | {r['simulate_exact_wall_s']*1e3:.0f} ms "
              f"({r['simulate_exact_sps']:,.0f}/s) | {r['simulate_acc16_wall_s']*1e3:.0f} ms "
              f"({r['simulate_acc16_sps']:,.0f}/s) |")
    print('\nOutput values of hls4ml `predict` identical to `balerc simulate` '
          '(max difference in LSBs of 2^-10):\n')
    print('| model | values | balerc exact accumulator | balerc accumulator = ap_fixed<16,6> | '
          'max abs error vs float torch: hls4ml / balerc exact / balerc acc16 | '
          'balerc cosim (g++ C sim) vs its simulator |')
    print('|---|---|---|---|---|---|')
    for name, r in rows:
        a, d = r['agree'], r['max_diff_lsb']
        print(f"| {name} | {n} x {r['outputs_per_sample']} | {a['exact']:.2%} "
              f"(max {d['exact']:.0f} LSB) | {a['acc16']:.2%} (max {d['acc16']:.0f} LSB) | "
              f"{r['hls4ml_vs_float_max']:.4f} / {r['balerc_exact_vs_float_max']:.4f} / "
              f"{r['balerc_acc16_vs_float_max']:.4f} | "
              f"{'all codes equal' if r['cosim_ok'] else 'MISMATCH'} |")
    if full_err:
        print(f'\nhls4ml on the full conv autoencoder: `{full_err.splitlines()[0][:200]}`')
    if ct_err:
        print(f'hls4ml on a lone ConvTranspose2d: `{ct_err.splitlines()[0][:200]}`')


if __name__ == '__main__':
    main()

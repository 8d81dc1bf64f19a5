#!/usr/bin/env python3
"""Compression and decompression throughput of balerc beside SZ3, on the same data and machine.

  jets  the shared jets (119,521 x 24 float32), every value within 1e-3 of its column's range.
        balerc with a model per preset, at 1 and 2 threads; SZ3 column by column (REL 1e-3),
        in this process and over 2 worker processes.
  cfd   the shared CFD frames (50 x 50 float64) tiled to 1,000 frames, every value within
        1.555e-3. balerc with a conv2d model per preset trained on the 60 original frames; SZ3
        (ABS 1.555e-3) on the whole 3-D array in one call.
  big   the jets tiled to about 300 MB (.npy), streamed by balerc with the fast preset, and SZ3 as
        for the jets.

balerc is timed as a whole process (reading, model loading and writing included) under
/usr/bin/time -v, which also gives its peak RSS; SZ3 as its compress and decompress calls only.
Every restored value is checked against the bound. Prints one markdown table per data set and
writes results.json in --work, where trained models and tiled data stay for the next run.

    cargo build --release
    python3 benches/throughput/run.py [--work DIR] [--only jets|cfd|big]... [--presets fast ...]
    python3 benches/throughput/run.py --quick     # about a minute: checks that everything runs
"""

import argparse
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

# pysz is imported where it is used, after this; the wheel is not built with OpenMP, but a build
# that is would otherwise take every core.
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHARED = REPO.parent / "shared" / "data"
MAKE_BIG = REPO / "benches" / "streaming" / "make_big_npy.py"

REL = 1e-3
CFD_ABS = 1.555e-3
# Room for the rounding of the bound itself when checking it.
SLACK = 1 + 1e-6
MB = 1e6
PRESETS = ["fast", "balanced", "best"]

# What `--set model.preset=NAME` stands for, spelled out for a balerc without presets
# (--explicit-presets).
PRESET_SETTINGS = {
    "dense": {
        "fast": ["model.hidden=[32,16]", "model.latent=8"],
        "balanced": ["model.hidden=[64,32]", "model.latent=8"],
        "best": ["model.latent=8"],  # Baler's 200-100-50
    },
    "conv2d": {
        "fast": ["model.channels=[8,8]", "model.stride=3", "model.latent=6"],
        "balanced": ["model.channels=[8,16,16]", "model.latent=12"],
        "best": ["model.latent=20"],  # the default channels 16, 32, 32
    },
}
CFD_SETTINGS = ["model.kind=conv2d", "training.batch_size=8"]

DEFAULTS = {"epochs": 100, "cfd_epochs": 300, "cfd_frames": 1000, "big_mb": 300, "repeat": 3}
QUICK = {"epochs": 2, "cfd_epochs": 10, "cfd_frames": 100, "big_mb": 20, "repeat": 1}


# ---------------------------------------------------------------------------------------------
# running things


def run(command, env=None, hint=""):
    """Runs a command to completion and returns its output; exits with that output if it fails."""
    done = subprocess.run([str(c) for c in command], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}{hint}")
    return done.stdout + done.stderr


def balerc_timed(args, threads, *command):
    """One balerc run on `threads` threads: (wall seconds, peak RSS in MB, its output)."""
    time_file = args.work / "time.txt"
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    text = run(["/usr/bin/time", "-v", "-o", time_file, args.balerc, *command], env)
    seconds = time.perf_counter() - start
    kbytes = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())[1])
    return seconds, kbytes * 1024 / MB, text


def best_of(repeat, measure):
    """The fastest of `repeat` calls of `measure` -> (seconds, RSS, output), with the largest RSS
    of them all (the machine is shared: the fastest run is the least disturbed one)."""
    runs = [measure() for _ in range(repeat)]
    seconds, _, text = min(runs, key=lambda r: r[0])
    return seconds, max(r[1] for r in runs), text


def fma_peak(work):
    """One core's double-precision FMA peak in GFLOP/s, from fma_peak.c; None where it does not build."""
    binary = work / "fma_peak"
    built = subprocess.run(["cc", "-O2", "-mavx2", "-mfma", HERE / "fma_peak.c", "-o", binary],
                           capture_output=True, text=True)
    if built.returncode != 0:
        print(f"fma_peak.c did not build, no FMA peak:\n{built.stderr}", file=sys.stderr)
        return None
    return float(re.search(r"([0-9.]+) GFLOP/s", run([binary]))[1])


# ---------------------------------------------------------------------------------------------
# data and models


def tiled(source, out, samples):
    """A .npy of `samples` samples tiled from `source` by benches/streaming/make_big_npy.py; one
    already in the work dir is reused."""
    if not out.exists():
        sample_bytes = load(source)[0].nbytes
        part = out.with_suffix(".part.npy")
        # Half a sample more than needed, so that the script's rounding down lands on `samples`.
        run([sys.executable, MAKE_BIG, source, part, (samples + 0.5) * sample_bytes / 1e9])
        part.rename(out)
    return out


def load(path):
    """The array of a .npz (its `data`) or of a .npy (mapped, not read in)."""
    if path.suffix == ".npz":
        with np.load(path) as npz:
            return npz["data"]
    return np.load(path, mmap_mode="r")


def summary(data, rows):
    return {"shape": list(data.shape), "dtype": str(data.dtype), "raw_bytes": data.nbytes, "rows": rows}


def column_range(data):
    return data.max(axis=0).astype(np.float64) - data.min(axis=0).astype(np.float64)


def check_bound(label, original, restored, tolerance, chunk=1 << 16):
    """Exits unless every restored value lies within `tolerance` of the original one (a chunk of
    samples at a time, so that a file larger than memory can be checked)."""
    if restored.shape != original.shape:
        sys.exit(f"{label}: restored shape {restored.shape}, original {original.shape}")
    over, worst = 0, 0.0
    for start in range(0, len(original), chunk):
        o = np.asarray(original[start:start + chunk], np.float64)
        error = np.abs(np.asarray(restored[start:start + chunk], np.float64) - o)
        over += np.count_nonzero(error > tolerance * SLACK)
        worst = max(worst, float((error - tolerance).max()))
    if over:
        sys.exit(f"{label}: BOUND VIOLATED: {over} values off by more than the bound (up to {worst:.3e} beyond it)")


def preset_settings(args, kind, preset):
    return PRESET_SETTINGS[kind][preset] if args.explicit_presets else [f"model.preset={preset}"]


def trained_model(args, name, data, epochs, settings):
    """The model trained in work/NAME; one already there is reused, so reruns skip training."""
    project = args.work / name
    model = project / "models" / "model"
    if (model / "model.json").exists():
        print(f"reusing {model}", flush=True)
        return model
    shutil.rmtree(project, ignore_errors=True)
    run([args.balerc, "new", project])
    sets = [flag for s in settings for flag in ("--set", s)]
    print(f"training {name} ({epochs} epochs, {' '.join(settings)})", flush=True)
    start = time.perf_counter()
    hint = "" if args.explicit_presets else "\n(a balerc without model.preset? rerun with --explicit-presets)"
    run([args.balerc, "train", project, "--input", data, "--epochs", epochs, *sets], hint=hint)
    print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    return model


# ---------------------------------------------------------------------------------------------
# measurements


def balerc_rows(args, name, preset, model, source, bound, original, tolerance):
    """balerc compressing and decompressing `source` at each thread count, bound checked."""
    packed = args.work / f"{name}-{preset}.baler"
    restored = args.work / f"{name}-restored{source.suffix}"
    rows = []
    for threads in args.threads:
        c_s, c_rss, text = best_of(args.repeat, lambda: balerc_timed(
            args, threads, "compress", "--model", model, "--input", source, "--output", packed, *bound,
            "--no-embed-model"))
        d_s, d_rss, _ = best_of(args.repeat, lambda: balerc_timed(
            args, threads, "decompress", "--input", packed, "--output", restored, "--model", model))
        check_bound(f"balerc {name} {preset}", original, load(restored), tolerance)
        restored.unlink()
        gflops = re.search(r"([0-9.]+) GFLOP/s", text)
        gflops = float(gflops[1]) if gflops else None
        rows.append(row(args, "balerc", preset, threads, original.nbytes, packed.stat().st_size, c_s, d_s,
                        c_rss, d_rss, gflops))
    return rows


def sz3_roundtrip(array, mode, bound):
    """SZ3 on one array: (compressed bytes, restored array, compress seconds, decompress seconds)."""
    import pysz

    config = pysz.szConfig(array.shape)
    if mode == "rel":
        config.errorBoundMode = pysz.szErrorBoundMode.REL
        config.relErrorBound = bound
    else:
        config.errorBoundMode = pysz.szErrorBoundMode.ABS
        config.absErrorBound = bound
    start = time.perf_counter()
    packed, _ = pysz.sz.compress(array, config)
    middle = time.perf_counter()
    restored, _ = pysz.sz.decompress(packed, array.dtype, array.shape)
    return packed.nbytes, restored, middle - start, time.perf_counter() - middle


def sz3_column(column):
    """One column with SZ3's REL bound (relative to the column's range), and the process it ran in."""
    return (os.getpid(), *sz3_roundtrip(column, "rel", REL))


def sz3_columns(data, processes):
    """SZ3 on each column as its own 1-D array, in this process or over worker processes:
    (compressed bytes, restored, compress s, decompress s). The seconds count SZ3's calls only; with
    workers, those of the busiest one, as the workers run side by side."""
    columns = [np.ascontiguousarray(data[:, j]) for j in range(data.shape[1])]
    if processes == 1:
        results = [sz3_column(c) for c in columns]
    else:
        with multiprocessing.Pool(processes) as pool:
            results = pool.map(sz3_column, columns, chunksize=1)
    restored = np.empty(data.shape, data.dtype)
    busy = {}
    for j, (pid, _, column, c_s, d_s) in enumerate(results):
        restored[:, j] = column
        c_sum, d_sum = busy.get(pid, (0.0, 0.0))
        busy[pid] = c_sum + c_s, d_sum + d_s
    nbytes = sum(r[1] for r in results)
    return nbytes, restored, max(c for c, _ in busy.values()), max(d for _, d in busy.values())


def sz3_table_rows(args, name, data, tolerance):
    """SZ3 column by column on a table at each thread count (worker processes for more than one)."""
    rows = []
    for threads in args.threads:
        runs = [sz3_columns(data, threads) for _ in range(args.repeat)]
        nbytes, restored, _, _ = runs[0]
        check_bound(f"SZ3 {name}", data, restored, tolerance)
        c_s, d_s = min(r[2] for r in runs), min(r[3] for r in runs)
        rows.append(row(args, "SZ3", "REL 1e-3 per column", threads, data.nbytes, nbytes, c_s, d_s))
    return rows


def row(args, tool, setting, threads, raw, nbytes, c_s, d_s, c_rss=None, d_rss=None, gflops=None):
    # balerc's GFLOP/s is per core (its seconds are added up over the threads).
    peak = args.fma_peak if args.fma_peak and gflops else None
    r = {"tool": tool, "setting": setting, "threads": threads, "raw_bytes": raw, "bytes": nbytes,
         "ratio": raw / nbytes, "compress_s": c_s, "decompress_s": d_s,
         "compress_MBps": raw / MB / c_s, "decompress_MBps": raw / MB / d_s,
         "compress_rss_MB": c_rss, "decompress_rss_MB": d_rss, "network_GFLOPs": gflops,
         "network_share_of_peak": gflops / peak if peak else None}
    print(f"  {tool} {setting}, {threads} thread(s): ratio {r['ratio']:.2f}, compress {r['compress_MBps']:.1f} MB/s, "
          f"decompress {r['decompress_MBps']:.1f} MB/s", flush=True)
    return r


# ---------------------------------------------------------------------------------------------
# the three data sets


def jets(args):
    source = args.jets
    data = load(source)
    tolerance = REL * column_range(data)
    rows = []
    for preset in args.presets:
        model = trained_model(args, f"jets-{preset}-{args.epochs}ep", source, args.epochs,
                              preset_settings(args, "dense", preset))
        rows += balerc_rows(args, "jets", preset, model, source, ["--max-rel-error", REL], data, tolerance)
    return summary(data, rows + sz3_table_rows(args, "jets", data, tolerance))


def cfd(args):
    source = args.cfd
    path = tiled(source, args.work / f"cfd-{args.cfd_frames}.npy", args.cfd_frames)
    data = np.array(load(path))
    rows = []
    for preset in args.presets:
        settings = CFD_SETTINGS + preset_settings(args, "conv2d", preset)
        model = trained_model(args, f"cfd-{preset}-{args.cfd_epochs}ep", source, args.cfd_epochs, settings)
        rows += balerc_rows(args, "cfd", preset, model, path, ["--max-abs-error", CFD_ABS], data, CFD_ABS)
    runs = [sz3_roundtrip(data, "abs", CFD_ABS) for _ in range(args.repeat)]
    nbytes, restored, _, _ = runs[0]
    check_bound("SZ3 cfd", data, restored, CFD_ABS)
    c_s, d_s = min(r[2] for r in runs), min(r[3] for r in runs)
    return summary(data, rows + [row(args, "SZ3", "ABS 1.555e-3, 3-D", 1, data.nbytes, nbytes, c_s, d_s)])


def big(args):
    source = args.jets
    samples = int(args.big_mb * MB) // load(source)[0].nbytes
    path = tiled(source, args.work / f"jets-{samples}.npy", samples)
    data = load(path)
    tolerance = REL * column_range(data)
    model = trained_model(args, f"jets-fast-{args.epochs}ep", source, args.epochs,
                          preset_settings(args, "dense", "fast"))
    rows = balerc_rows(args, "big", "fast", model, path, ["--max-rel-error", REL], data, tolerance)
    return summary(data, rows + sz3_table_rows(args, "big", data, tolerance))


TITLES = {
    "jets": "Jets, every value within 1e-3 of its column's range",
    "cfd": "CFD frames tiled, every value within 1.555e-3",
    "big": "Jets tiled to a large .npy, streamed by balerc (fast preset), within 1e-3 of each column's range",
}


# ---------------------------------------------------------------------------------------------
# report


def fmt(x, digits=3):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def table(rows):
    header = ["tool", "setting", "threads", "ratio", "compress MB/s", "decompress MB/s", "compress RSS MB",
              "decompress RSS MB", "network GFLOP/s", "network % of FMA peak"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        share = r["network_share_of_peak"]
        cells = [r["tool"], r["setting"], r["threads"], r["ratio"], r["compress_MBps"], r["decompress_MBps"],
                 r["compress_rss_MB"], r["decompress_rss_MB"], r["network_GFLOPs"],
                 f"{100 * share:.1f} %" if share is not None else None]
        lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def report(args, results):
    peak = f"{args.fma_peak:.1f} GFLOP/s" if args.fma_peak else "n/a"
    out = [f"Double-precision FMA peak of one core: {peak} (balerc's network GFLOP/s is per core, its seconds added up over the threads)."]
    for name, measured in results["data"].items():
        shape = " x ".join(map(str, measured["shape"]))
        out.append(f"\n### {TITLES[name]} ({shape} {measured['dtype']}, {measured['raw_bytes'] / MB:.1f} MB)\n")
        out.append(table(measured["rows"]))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def default_balerc():
    for target in (os.environ.get("CARGO_TARGET_DIR"), REPO / "target"):
        if target and (pathlib.Path(target) / "release" / "balerc").exists():
            return pathlib.Path(target) / "release" / "balerc"
    return None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--balerc", type=pathlib.Path, default=default_balerc(),
                        help="the binary (default $CARGO_TARGET_DIR/release/balerc, else target/release/balerc)")
    parser.add_argument("--work", type=pathlib.Path, help="work dir (default a new temporary one); "
                        "trained models and tiled data found there are reused")
    parser.add_argument("--only", choices=["jets", "cfd", "big"], action="append", help="repeatable; default all")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=PRESETS)
    parser.add_argument("--explicit-presets", action="store_true",
                        help="train with the settings each preset stands for, not model.preset")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="balerc's threads (RAYON_NUM_THREADS) and SZ3's worker processes on tables")
    parser.add_argument("--epochs", type=int, help=f"jets training epochs (default {DEFAULTS['epochs']})")
    parser.add_argument("--cfd-epochs", type=int, help=f"CFD training epochs (default {DEFAULTS['cfd_epochs']})")
    parser.add_argument("--cfd-frames", type=int, help=f"CFD frames after tiling (default {DEFAULTS['cfd_frames']})")
    parser.add_argument("--big-mb", type=float, help=f"size of the large file in MB (default {DEFAULTS['big_mb']})")
    parser.add_argument("--repeat", type=int,
                        help=f"timings per measurement, the best kept (default {DEFAULTS['repeat']})")
    parser.add_argument("--quick", action="store_true", help="a tiny run to check the script: " +
                        ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    parser.add_argument("--jets", type=pathlib.Path, default=SHARED / "jets_pythia_24col.npz")
    parser.add_argument("--cfd", type=pathlib.Path, default=SHARED / "cfd_animation_60x50x50.npz")
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.balerc is None or not args.balerc.exists():
        parser.error("no balerc binary: run `cargo build --release` first, or pass --balerc PATH")
    args.balerc = args.balerc.resolve()
    args.work = (args.work or pathlib.Path(tempfile.mkdtemp(prefix="balerc_throughput_"))).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    return args


def main():
    args = parse_args()
    print(f"work dir: {args.work}", flush=True)
    args.fma_peak = fma_peak(args.work)
    measures = {"jets": jets, "cfd": cfd, "big": big}
    results = {"fma_peak_GFLOPs": args.fma_peak, "cpus": os.cpu_count(), "data": {},
               "settings": {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(args).items()}}
    for name in args.only or measures:
        print(name, flush=True)
        results["data"][name] = measures[name](args)
    text = report(args, results)
    print("\n" + text)
    (args.work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.work / 'results.json'}")


if __name__ == "__main__":
    main()

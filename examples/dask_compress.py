#!/usr/bin/env python3
"""Compresses a data set of many files with dask.distributed: the model is read once and
broadcast to every worker, each file is one task, and every .baler file is byte for byte the
one the serial run (or `balerc compress`) writes.

    python3 examples/dask_compress.py --model jets.model --out compressed/ data/*.npz
    python3 examples/dask_compress.py --workers 8 ...                  # a local cluster of 8
    python3 examples/dask_compress.py --scheduler tcp://HOST:8786 ...  # a running cluster
    python3 examples/dask_compress.py --serial ...                     # one file after another

The workers need the balerc package and the input files (a shared file system), not the model
directory: its files travel with the tasks. The decoder is embedded in every output, so that a
file decompresses anywhere with `balerc decompress` alone. docs/python.md shows the same on
Slurm and HTCondor through dask-jobqueue.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence

import balerc

# What compression reads of a model directory (the last two only where training wrote them).
MODEL_FILES = ("model.json", "encoder.onnx", "decoder.onnx", "autoencoder.onnx", "outliers.json", "precision.toml")


def read_model(model_dir: str) -> Dict[str, bytes]:
    """The model directory's files that compression reads, by name."""
    files = {}
    for name in MODEL_FILES:
        path = os.path.join(model_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    if "model.json" not in files:
        raise balerc.BalercError(f"{model_dir} is not a balerc model (cannot read model.json)")
    return files


def materialize(files: Dict[str, bytes]) -> str:
    """The model as a directory on this worker, written once per machine (named by its content,
    moved into place whole, so concurrent tasks never see half of it)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    target = os.path.join(tempfile.gettempdir(), f"balerc-model-{digest.hexdigest()[:16]}")
    if not os.path.isdir(target):
        staging = tempfile.mkdtemp(prefix=".balerc-model-", dir=tempfile.gettempdir())
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        try:
            os.rename(staging, target)
        except OSError:  # another task put it there first
            for name in files:
                os.remove(os.path.join(staging, name))
            os.rmdir(staging)
    return target


def output_for(input_path: str, out_dir: str) -> str:
    """`data/run1.npz` compresses into `OUT/run1.baler`."""
    stem = os.path.splitext(os.path.basename(input_path.split(":")[0]))[0]
    return os.path.join(out_dir, stem + ".baler")


def compress_one(model: Dict[str, bytes], input_path: str, output: str, settings: Dict[str, Any]) -> Dict[str, Any]:
    """One task: one file, with the broadcast model."""
    return balerc.compress_file(input_path, output, model=materialize(model), embed_model=True, **settings)


def compress_distributed(client: Any, model_dir: str, inputs: Sequence[str], out_dir: str, **settings: Any) -> List[Dict[str, Any]]:
    """Every file as a task on the cluster of `client`, the model sent once to each worker."""
    os.makedirs(out_dir, exist_ok=True)
    # A one-element list, so that the files go as one object rather than one per name.
    [model] = client.scatter([read_model(model_dir)], broadcast=True)
    tasks = [
        client.submit(compress_one, model, path, output_for(path, out_dir), settings, pure=False) for path in inputs
    ]
    return client.gather(tasks)


def compress_serially(model_dir: str, inputs: Sequence[str], out_dir: str, **settings: Any) -> List[Dict[str, Any]]:
    """The same, one file after another in this process."""
    os.makedirs(out_dir, exist_ok=True)
    return [
        balerc.compress_file(path, output_for(path, out_dir), model=model_dir, embed_model=True, **settings)
        for path in inputs
    ]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", help="data files (.npz, .npy, .csv, .parquet, FILE.h5:OBJECT)")
    parser.add_argument("--model", required=True, help="the model directory written by balerc train")
    parser.add_argument("--out", required=True, help="the folder for the .baler files")
    parser.add_argument("--max-rel-error", type=float, help="as balerc compress --max-rel-error")
    parser.add_argument("--max-abs-error", type=float, help="as balerc compress --max-abs-error")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default 2)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler instead of a local cluster")
    parser.add_argument("--serial", action="store_true", help="no Dask: one file after another")
    args = parser.parse_args(argv)
    settings = {"max_rel_error": args.max_rel_error, "max_abs_error": args.max_abs_error}
    started = time.perf_counter()
    startup = 0.0
    if args.serial:
        reports = compress_serially(args.model, args.inputs, args.out, **settings)
        seconds = time.perf_counter() - started
    else:
        from dask.distributed import Client, LocalCluster

        with contextlib.ExitStack() as opened:
            if args.scheduler:
                client = opened.enter_context(Client(args.scheduler))
            else:
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None)
                client = opened.enter_context(Client(opened.enter_context(cluster)))
            startup = time.perf_counter() - started
            reports = compress_distributed(client, args.model, args.inputs, args.out, **settings)
            seconds = time.perf_counter() - started - startup
    original = sum(r["original_bytes"] for r in reports)
    compressed = sum(r["compressed_bytes"] for r in reports)
    print(
        f"compressed {len(reports)} files, {sum(r['samples'] for r in reports)} samples: "
        f"{original} -> {compressed} bytes (ratio {original / max(compressed, 1):.2f}) in {seconds:.2f} s"
        + (f" (and {startup:.2f} s to reach the cluster)" if startup else "")
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except balerc.BalercError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""Epoch time and reconstruction quality of `balerc train` beside PyTorch doing the same loop.

Both train Baler's dense autoencoder (24-200-100-50-15, LeakyReLU 0.01, Adam 1e-3, batch 512,
min-max normalization, 15 % held out, no schedule, no early stopping) on the same file for the
same epochs and seeds, on this machine, one after the other. Prints a markdown table.

    cargo build --release
    python3 benches/compare/train_compare.py --data ../shared/data/jets_pythia_24col.npz \\
        --epochs 20 --seeds 1,2,3 [--balerc target/release/balerc] [--model ae|fpga]
"""

import argparse
import csv
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
MODELS = {
    "ae": {"hidden": [200, 100, 50], "activation": "leaky-relu", "latent": 15},
    "fpga": {"hidden": [20, 10], "activation": "relu", "latent": 8},
}


def balerc_run(binary, data, epochs, seed, model, threads):
    with tempfile.TemporaryDirectory() as project:
        subprocess.run([binary, "new", project], check=True, capture_output=True)
        settings = [
            f"model.hidden={model['hidden']}",
            f"model.activation={model['activation']}",
            f"model.latent={model['latent']}",
            "training.batch_size=512",
            "training.lr_factor=1",
            "training.early_stopping_patience=0",
            f"training.threads={threads}",
        ]
        command = [binary, "train", project, "--input", str(data), "--epochs", str(epochs), "--seed", str(seed)]
        for s in settings:
            command += ["--set", s]
        subprocess.run(command, check=True, capture_output=True)
        with open(pathlib.Path(project) / "outputs/training/loss.csv") as f:
            rows = list(csv.DictReader(f))
    seconds = [float(r["seconds"]) for r in rows[1:]] or [float(rows[0]["seconds"])]
    return statistics.median(seconds), float(rows[-1]["validation_loss"])


def pytorch_run(data, epochs, seed, model, threads):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [
            sys.executable, str(HERE / "train_pytorch.py"), "--data", str(data), "--epochs", str(epochs),
            "--seed", str(seed), "--latent", str(model["latent"]),
            "--hidden", ",".join(map(str, model["hidden"])), "--activation", model["activation"],
            "--json", out.name,
        ]
        if threads:
            command += ["--threads", str(threads)]
        subprocess.run(command, check=True, capture_output=True)
        result = json.load(open(out.name))
    return result["median_epoch_seconds"], result["final_validation_mse"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--balerc", default=str(HERE.parent.parent / "target/release/balerc"))
    parser.add_argument("--model", choices=MODELS, default="ae")
    parser.add_argument("--threads", type=int, default=0, help="0: all cores for both")
    args = parser.parse_args()
    model = MODELS[args.model]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name, run in [
        ("balerc (burn flex)", lambda s: balerc_run(args.balerc, args.data, args.epochs, s, model, args.threads)),
        ("PyTorch", lambda s: pytorch_run(args.data, args.epochs, s, model, args.threads)),
    ]:
        results = [run(s) for s in seeds]
        rows.append((name, [r[0] for r in results], [r[1] for r in results]))
    print(f"{args.model}: {model}, {args.epochs} epochs, seeds {seeds}, threads {args.threads or 'all'}\n")
    print("| trainer | median epoch s | validation MSE after the last epoch (per seed) | mean |")
    print("|---|---|---|---|")
    for name, seconds, losses in rows:
        per_seed = ", ".join(f"{l:.3e}" for l in losses)
        print(f"| {name} | {statistics.median(seconds):.3f} | {per_seed} | {statistics.mean(losses):.3e} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch baseline for `balerc train`: Baler's training loop on the same data and settings.

Baler (baler-collaboration/baler) is PyTorch. This script runs its dense autoencoder "AE"
the way `balerc train` runs it, so that speed and quality can be compared directly:

- Data: an .npz with key `data` (rows x columns). Min-max normalization per column,
  fitted on ALL rows in float64 (offset = min, scale = max - min, scale 0 -> 1), then
  cast to float32, as balerc's `runtime/src/normalize.rs` does.
- Split: a seeded permutation of the rows; the last round(N * 0.15) rows of it are the
  validation set. (numpy's RNG, not balerc's, so the rows differ; the fraction is the same.)
- Model: Linear layers n-200-100-50-z encoder and the mirrored decoder z-50-100-200-n,
  LeakyReLU(0.01) after every layer except the latent and the output. PyTorch default init.
  `--model fpga` is Baler's FPGA prototype: hidden [20, 10] with ReLU (latent still from
  `--latent`). `--hidden` and `--activation` override widths and activation.
- Training: Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), no weight decay, no LR schedule,
  no early stopping, a fixed number of epochs. Batches from a fresh shuffle each epoch, the
  last partial batch kept; loss = MSE over the batch. The reported train loss is the
  batch-size-weighted mean of the batch losses (taken before each step), as in balerc.
  After each epoch: validation MSE over the whole held-out set under torch.no_grad, in
  chunks of 8192. Epoch seconds include that validation pass (balerc times it the same way).

Usage (from the repository root):

    python3 benches/compare/train_pytorch.py --data /work/shared/data/jets_pythia_24col.npz \\
        --epochs 50 [--batch-size 512] [--latent 15] [--threads T] [--seed S] \\
        [--model ae|fpga] [--hidden 200,100,50] [--activation leaky-relu|relu] [--json OUT.json]

`--threads` sets torch.set_num_threads (default: all cores). Prints one line per epoch,
`epoch k train_loss val_loss seconds`, then a summary: median epoch seconds (the first
epoch excluded as warm-up), total seconds, final train and validation MSE. `--json` writes
{"epochs": [...], "median_epoch_seconds", "final_validation_mse", "threads",
"torch_version", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

VALIDATION_FRACTION = 0.15
EVAL_CHUNK = 8192


def load_normalized(path: str) -> np.ndarray:
    with np.load(path) as archive:
        data = np.asarray(archive["data"], dtype=np.float64)
    if data.ndim != 2:
        raise SystemExit(f"{path}: expected a 2-D table under 'data', got shape {data.shape}")
    low = data.min(axis=0)
    high = data.max(axis=0)
    offset = np.where(np.isfinite(low), low, 0.0)
    scale = high - low
    scale = np.where(np.isfinite(scale) & (scale != 0.0), scale, 1.0)
    return ((data - offset) / scale).astype(np.float32)


def split(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(rows))
    held_out = int(round(len(rows) * VALIDATION_FRACTION))
    train_idx, val_idx = order[: len(rows) - held_out], order[len(rows) - held_out :]
    return np.ascontiguousarray(rows[train_idx]), np.ascontiguousarray(rows[val_idx])


class Autoencoder(nn.Module):
    def __init__(self, n_features: int, hidden: list[int], latent: int, activation: str):
        super().__init__()

        def act() -> nn.Module:
            return nn.LeakyReLU(0.01) if activation == "leaky-relu" else nn.ReLU()

        def stack(widths: list[int]) -> nn.Sequential:
            layers: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
                layers.append(nn.Linear(a, b))
                if i < len(widths) - 2:  # no activation on the last layer (latent / output)
                    layers.append(act())
            return nn.Sequential(*layers)

        self.encoder = stack([n_features, *hidden, latent])
        self.decoder = stack([latent, *reversed(hidden), n_features])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@torch.no_grad()
def validation_mse(model: nn.Module, rows: torch.Tensor) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(rows), EVAL_CHUNK):
        x = rows[start : start + EVAL_CHUNK]
        total += float(((model(x) - x) ** 2).sum())
    model.train()
    return total / rows.numel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--latent", type=int, default=15)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=["ae", "fpga"], default="ae")
    parser.add_argument("--hidden", help="comma-separated hidden widths (overrides --model)")
    parser.add_argument("--activation", choices=["leaky-relu", "relu"],
                        help="default: leaky-relu for ae, relu for fpga")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    hidden = [200, 100, 50] if args.model == "ae" else [20, 10]
    if args.hidden:
        hidden = [int(w) for w in args.hidden.split(",") if w.strip()]
    activation = args.activation or ("leaky-relu" if args.model == "ae" else "relu")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    rows = load_normalized(args.data)
    train_np, val_np = split(rows, args.seed)
    train = torch.from_numpy(train_np)
    val = torch.from_numpy(val_np)
    n_features = rows.shape[1]

    model = Autoencoder(n_features, hidden, args.latent, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(args.seed + 1)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"layers {[n_features, *hidden, args.latent]} + mirror, {activation}, "
          f"train {len(train)} rows, validation {len(val)} rows, batch {args.batch_size}", flush=True)

    epochs = []
    run_started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(len(train), generator=generator)
        weighted = 0.0
        for start in range(0, len(train), args.batch_size):
            x = train[order[start : start + args.batch_size]]
            loss = loss_fn(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            weighted += float(loss.detach()) * len(x)
        train_loss = weighted / len(train)
        val_loss = validation_mse(model, val)
        seconds = time.perf_counter() - started
        epochs.append({"epoch": epoch, "train_loss": train_loss, "validation_loss": val_loss, "seconds": seconds})
        print(f"epoch {epoch} {train_loss:.6e} {val_loss:.6e} {seconds:.3f}", flush=True)
    total = time.perf_counter() - run_started

    timed = [e["seconds"] for e in epochs[1:]] or [e["seconds"] for e in epochs]
    median = statistics.median(timed) if timed else float("nan")
    final_train = epochs[-1]["train_loss"] if epochs else float("nan")
    final_val = epochs[-1]["validation_loss"] if epochs else float("nan")
    print(f"median epoch seconds (excluding epoch 1): {median:.3f}")
    print(f"total seconds: {total:.3f}")
    print(f"final train MSE: {final_train:.6e}")
    print(f"final validation MSE: {final_val:.6e}")

    if args.json_out:
        result = {
            "epochs": epochs,
            "median_epoch_seconds": median,
            "total_seconds": total,
            "final_train_mse": final_train,
            "final_validation_mse": final_val,
            "threads": torch.get_num_threads(),
            "torch_version": torch.__version__,
            "batch_size": args.batch_size,
            "layers": [n_features, *hidden, args.latent],
            "activation": activation,
            "seed": args.seed,
            "train_rows": len(train),
            "validation_rows": len(val),
        }
        with open(args.json_out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()

"""Fixtures: the repository's bundled data and model, and the balerc command to compare with."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
JETS = ROOT / "examples" / "data" / "jets_sample.npz"
JETS16 = ROOT / "examples" / "data" / "jets16_sample.npy"
FPGA_MODEL = ROOT / "examples" / "models" / "fpga_autoencoder.onnx"
# A small dense model (24 -> 16 -> 6) trained on jets, as compression reads it.
MODEL = ROOT / "codec" / "tests" / "fixtures" / "jets_model"


def _balerc_command() -> Path | None:
    """The balerc binary: $BALERC_BIN, else the release build in the usual target folders."""
    named = os.environ.get("BALERC_BIN")
    if named:
        if not Path(named).is_file():
            raise RuntimeError(f"BALERC_BIN names {named}, which does not exist")
        return Path(named)
    folders = [os.environ.get("CARGO_TARGET_DIR"), ROOT / "target", Path.home() / ".cache" / "balerc" / "target"]
    for folder in folders:
        if folder and (Path(folder) / "release" / "balerc").is_file():
            return Path(folder) / "release" / "balerc"
    return shutil.which("balerc") and Path(shutil.which("balerc"))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def cli():
    """Runs `balerc ARGS...`; returns the completed process (check=False)."""
    command = _balerc_command()
    if command is None:
        pytest.skip("no balerc binary: build it with cargo build --release, or set BALERC_BIN")

    def run(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([str(command), *map(str, args)], capture_output=True, text=True)

    return run


@pytest.fixture(scope="session")
def jets() -> np.ndarray:
    """The bundled jets: 5000 x 24 float32."""
    return np.load(JETS)["data"]


@pytest.fixture(scope="session")
def jet_names() -> List[str]:
    return [str(n) for n in np.load(JETS)["names"]]


@pytest.fixture(scope="session")
def model() -> Path:
    return MODEL

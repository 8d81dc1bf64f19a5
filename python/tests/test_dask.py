"""examples/dask_compress.py on a local cluster of two workers: the same files as the serial run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

import balerc  # noqa: E402
from conftest import ROOT  # noqa: E402


def load_example():
    spec = importlib.util.spec_from_file_location("dask_compress", ROOT / "examples" / "dask_compress.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_workers_write_the_files_the_serial_run_writes(jets, jet_names, model, tmp_path):
    example = load_example()
    inputs = []
    for part in range(4):
        path = tmp_path / "data" / f"run{part}.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez(path, data=jets[part * 1250:(part + 1) * 1250], names=np.array(jet_names))
        inputs.append(str(path))

    serial = example.compress_serially(str(model), inputs, str(tmp_path / "serial"), max_rel_error=1e-3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            spread = example.compress_distributed(client, str(model), inputs, str(tmp_path / "dask"),
                                                  max_rel_error=1e-3)
            workers = client.run(lambda: 1)
    assert len(workers) == 2
    assert [r["samples"] for r in spread] == [r["samples"] for r in serial] == [1250] * 4
    for path in inputs:
        name = example.output_for(path, "")
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    restored = balerc.decompress((tmp_path / "dask" / "run2.baler").read_bytes())
    original = jets[2500:3750].astype(np.float64)
    ranges = original.max(axis=0) - original.min(axis=0)
    assert np.all(np.abs(restored - original) <= 1e-3 * ranges * (1 + 1e-9))


def test_the_command_line_of_the_example_runs_serially(jets, model, tmp_path, capsys):
    example = load_example()
    np.save(tmp_path / "a.npy", jets[:400])
    assert example.main([str(tmp_path / "a.npy"), "--model", str(model), "--out", str(tmp_path / "out"),
                         "--serial", "--max-abs-error", "0.01"]) == 0
    assert "compressed 1 files, 400 samples" in capsys.readouterr().out
    assert (tmp_path / "out" / "a.baler").is_file()

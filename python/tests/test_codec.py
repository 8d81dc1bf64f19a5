"""compress and decompress: in memory and between files, against the command line."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import balerc


def column_ranges(data: np.ndarray) -> np.ndarray:
    return data.max(axis=0).astype(np.float64) - data.min(axis=0).astype(np.float64)


def test_a_round_trip_holds_the_bound_on_every_value_and_keeps_the_dtype(jets, model):
    data = jets[:2000]
    blob = balerc.compress(data, model=model, max_rel_error=1e-3)
    restored = balerc.decompress(blob)
    assert isinstance(blob, bytes) and len(blob) < data.nbytes
    assert restored.dtype == np.float32 and restored.shape == data.shape
    error = np.abs(restored.astype(np.float64) - data.astype(np.float64))
    assert np.all(error <= 1e-3 * column_ranges(data) * (1 + 1e-9))


def test_the_bytes_and_the_values_are_the_command_lines(jets, model, cli, tmp_path):
    data = jets[:1500]
    np.save(tmp_path / "x.npy", data)
    done = cli("compress", "--model", model, "--input", tmp_path / "x.npy", "--output", tmp_path / "x.baler",
               "--max-abs-error", "0.01")
    assert done.returncode == 0, done.stderr
    blob = balerc.compress(data, model=model, max_abs_error=0.01)
    assert blob == (tmp_path / "x.baler").read_bytes()

    done = cli("decompress", "--input", tmp_path / "x.baler", "--output", tmp_path / "y.npy")
    assert done.returncode == 0, done.stderr
    by_cli = np.load(tmp_path / "y.npy")
    by_python = balerc.decompress(blob)
    assert by_python.dtype == by_cli.dtype
    assert np.array_equal(by_python, by_cli)


def test_the_file_functions_write_what_the_command_line_writes(jets, jet_names, model, cli, tmp_path):
    np.savez(tmp_path / "jets.npz", data=jets[:1000], names=np.array(jet_names))
    report = balerc.compress_file(tmp_path / "jets.npz", tmp_path / "py.baler", model=model, max_rel_error=1e-3)
    assert report["samples"] == 1000 and report["compressed_bytes"] == (tmp_path / "py.baler").stat().st_size
    done = cli("compress", "--model", model, "--input", tmp_path / "jets.npz", "--output", tmp_path / "cli.baler",
               "--max-rel-error", "1e-3")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "py.baler").read_bytes() == (tmp_path / "cli.baler").read_bytes()

    balerc.decompress_file(tmp_path / "py.baler", tmp_path / "py.npz")
    done = cli("decompress", "--input", tmp_path / "cli.baler", "--output", tmp_path / "cli.npz")
    assert done.returncode == 0, done.stderr
    by_python, by_cli = np.load(tmp_path / "py.npz"), np.load(tmp_path / "cli.npz")
    assert np.array_equal(by_python["data"], by_cli["data"])
    assert list(by_python["names"]) == jet_names


def test_every_numeric_dtype_comes_back_as_it_went(model, jets):
    data = np.round(jets[:300] * 10).astype(np.float64)
    for dtype in (np.float64, np.float32, np.int32, np.int64):
        restored = balerc.decompress(balerc.compress(data.astype(dtype), model=model, max_abs_error=0.5))
        assert restored.dtype == dtype


def test_without_a_bound_the_reconstruction_is_the_autoencoders(jets, model):
    data = jets[:500]
    restored = balerc.decompress(balerc.compress(data, model=model))
    assert restored.shape == data.shape and not np.array_equal(restored, data)


def test_nan_in_the_data_is_named_by_its_row_and_column(jets, model):
    data = jets[:100].copy()
    data[3, 5] = np.nan
    with pytest.raises(balerc.BalercError, match=r"^the array: row 3, column 5 is NaN$"):
        balerc.compress(data, model=model)


def test_bad_inputs_raise_one_clear_error(jets, model, tmp_path):
    assert issubclass(balerc.BalercError, ValueError)
    with pytest.raises(balerc.BalercError, match="is not a balerc model"):
        balerc.compress(jets[:10], model=tmp_path / "nowhere")
    with pytest.raises(balerc.BalercError):
        balerc.compress(jets[:10, :20], model=model)
    with pytest.raises(balerc.BalercError, match="^the compressed bytes"):
        balerc.decompress(b"\x00" * 64)
    with pytest.raises(balerc.BalercError, match="not both"):
        balerc.compress(jets[:10], model=model, max_abs_error=1.0, max_rel_error=1e-3)
    with pytest.raises(balerc.BalercError, match="stores no values of dtype"):
        balerc.compress(np.zeros((4, 24), dtype=np.complex64), model=model)


def test_a_damaged_blob_raises_rather_than_crashes(jets, model):
    blob = bytearray(balerc.compress(jets[:500], model=model, max_rel_error=1e-3))
    for position in range(40, len(blob), max(1, len(blob) // 25)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x5A
        try:
            balerc.decompress(bytes(damaged))
        except balerc.BalercError:
            pass
    with pytest.raises(balerc.BalercError):
        balerc.decompress(bytes(blob[: len(blob) // 2]))


def test_messages_are_the_command_lines(jets, model, cli, tmp_path):
    np.save(tmp_path / "x.npy", jets[:10])
    done = cli("compress", "--model", tmp_path / "nowhere", "--input", tmp_path / "x.npy",
               "--output", tmp_path / "x.baler")
    with pytest.raises(balerc.BalercError) as raised:
        balerc.compress_file(tmp_path / "x.npy", tmp_path / "x.baler", model=tmp_path / "nowhere")
    assert done.stderr.strip() == f"error: {raised.value}"
    assert not (tmp_path / "x.baler").exists()


def test_compression_lets_other_threads_run(jets, model):
    data = np.tile(jets, (8, 1))
    beats = []
    finished = threading.Event()

    def work():
        balerc.compress(data, model=model, max_rel_error=1e-3)
        finished.set()

    worker = threading.Thread(target=work)
    started = time.perf_counter()
    worker.start()
    while not finished.is_set():
        beats.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    ended = time.perf_counter()
    middle = [t for t in beats if started + 0.25 * (ended - started) < t < ended - 0.25 * (ended - started)]
    assert ended - started > 0.05, "too little work to tell"
    assert len(middle) > 5, f"the main thread ran {len(middle)} times while compress ran {ended - started:.2f} s"

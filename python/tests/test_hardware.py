"""lower and simulate, against the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import balerc
from conftest import FPGA_MODEL, JETS16


def test_simulation_is_the_command_lines_value_for_value_and_code_for_code(cli, tmp_path):
    x = np.load(JETS16)[:200]
    np.save(tmp_path / "x.npy", x)
    for flags, name in (((), "values"), (("--raw",), "codes"), (("--float",), "float")):
        done = cli("simulate", FPGA_MODEL, "--input", tmp_path / "x.npy", "--output", tmp_path / f"{name}.npy",
                   "--precision", "ap_fixed<16,6>", *flags)
        assert done.returncode == 0, done.stderr
    values = balerc.simulate(FPGA_MODEL, x, precision="ap_fixed<16,6>")
    codes = balerc.simulate(FPGA_MODEL, x, precision="ap_fixed<16,6>", raw=True)
    floats = balerc.simulate(FPGA_MODEL, x, precision="ap_fixed<16,6>", float=True)
    assert codes.dtype == np.int64 and np.array_equal(codes, np.load(tmp_path / "codes.npy"))
    # The command line writes float32; the fixed-point values themselves are exact in float64.
    assert np.array_equal(values.astype(np.float32), np.load(tmp_path / "values.npy"))
    assert np.array_equal(floats.astype(np.float32), np.load(tmp_path / "float.npy"))
    assert values.shape == (200, 16)


def test_a_part_of_the_model_is_simulated_alone():
    x = np.load(JETS16)[:10]
    latent = balerc.simulate(FPGA_MODEL, x, part="encoder")
    assert latent.shape == (10, 8)


def test_an_array_that_is_no_batch_of_samples_is_refused():
    with pytest.raises(balerc.BalercError, match=r"^input array: has shape \[3, 15\], but the model takes samples of 16 values$"):
        balerc.simulate(FPGA_MODEL, np.zeros((3, 15)))
    with pytest.raises(balerc.BalercError, match="neither|precision"):
        balerc.simulate(FPGA_MODEL, np.zeros((3, 16)), precision="ap_fixed<16")


def test_lowering_writes_the_build_the_command_line_writes(cli, tmp_path):
    result = balerc.lower(FPGA_MODEL, target="verilog", precision="ap_fixed<16,6>", out=tmp_path / "py", part="encoder")
    done = cli("lower", FPGA_MODEL, "--part", "encoder", "--precision", "ap_fixed<16,6>", "--target", "verilog",
               "--out", tmp_path / "cli")
    assert done.returncode == 0, done.stderr
    assert result["precision_table"] == done.stdout
    assert result["report"] == json.loads((tmp_path / "cli" / "report.json").read_text())
    for file in sorted((tmp_path / "cli").rglob("*")):
        twin = tmp_path / "py" / file.relative_to(tmp_path / "cli")
        if file.is_file() and file.name != "report.json":
            assert twin.read_bytes() == file.read_bytes(), file.name


def test_lowering_without_a_target_only_tells_the_precision():
    result = balerc.lower(FPGA_MODEL)
    assert result["build_dir"] is None and "ap_fixed<16,6>" in result["precision_table"]


def test_lowering_refuses_what_it_cannot_build(tmp_path):
    with pytest.raises(balerc.BalercError, match="unknown target 'vhdl'"):
        balerc.lower(FPGA_MODEL, target="vhdl", out=tmp_path / "b")
    with pytest.raises(balerc.BalercError, match="needs out"):
        balerc.lower(FPGA_MODEL, target="hls")
    with pytest.raises(balerc.BalercError, match="cannot read|not a valid ONNX"):
        balerc.lower(tmp_path / "missing.onnx")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(balerc.BalercError):
        balerc.lower(FPGA_MODEL, out=tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"

"""train: from an array or files, with the default settings and keyword overrides."""

from __future__ import annotations

import json

import numpy as np
import pytest

import balerc


def test_an_array_trains_a_model_that_compresses_within_the_bound(jets, tmp_path):
    data = jets[:1000]
    summary = balerc.train(data, out=tmp_path / "m.model", epochs=2, latent=4, seed=3, model_preset="fast")
    assert summary["epochs"] == 2 and summary["model_dir"] == str(tmp_path / "m.model")
    info = json.loads((tmp_path / "m.model" / "model.json").read_text())
    assert info["spec"]["latent"] == 4 and info["training"]["config"]["epochs"] == 2
    restored = balerc.decompress(balerc.compress(data, model=tmp_path / "m.model", max_abs_error=0.05))
    assert np.max(np.abs(restored.astype(np.float64) - data)) <= 0.05


def test_a_file_trains_with_the_model_beside_it(jets, jet_names, tmp_path):
    np.savez(tmp_path / "jets.npz", data=jets[:500], names=np.array(jet_names))
    summary = balerc.train(tmp_path / "jets.npz", settings={"training.epochs": 1, "model.preset": "fast"})
    assert summary["model_dir"] == str(tmp_path / "jets.model")
    assert (tmp_path / "jets.model" / "decoder.onnx").is_file()


def test_the_same_seed_trains_the_same_model(jets, tmp_path):
    for name in ("a", "b"):
        balerc.train(jets[:300], out=tmp_path / name, epochs=1, seed=7, model_preset="fast",
                     training_deterministic=True)
    assert (tmp_path / "a" / "decoder.onnx").read_bytes() == (tmp_path / "b" / "decoder.onnx").read_bytes()


def test_bad_settings_and_data_are_named(jets, tmp_path):
    with pytest.raises(balerc.BalercError, match="unknown setting 'epochs_max'"):
        balerc.train(jets[:100], out=tmp_path / "m", epochs_max=3)
    with pytest.raises(balerc.BalercError, match="needs out"):
        balerc.train(jets[:100])
    with pytest.raises(balerc.BalercError, match="model.nonsense|nonsense"):
        balerc.train(jets[:100], out=tmp_path / "m", model_nonsense=1)
    with pytest.raises(balerc.BalercError, match="missing.npz"):
        balerc.train(tmp_path / "missing.npz", out=tmp_path / "m")
    assert not (tmp_path / "m").exists()

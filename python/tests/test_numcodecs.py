"""The numcodecs codec: registered under its id, and storing Zarr arrays within the bound."""

from __future__ import annotations

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")

import balerc  # noqa: E402
from balerc.numcodecs import Balerc  # noqa: E402


def test_the_codec_is_found_by_its_id_and_round_trips_its_config(model):
    codec = numcodecs.get_codec({"id": "balerc", "model": str(model), "max_rel_error": 1e-3})
    assert isinstance(codec, Balerc)
    assert numcodecs.get_codec(codec.get_config()) == codec


def test_a_chunk_decodes_to_what_decompress_gives(jets, model):
    codec = Balerc(model=model, max_rel_error=1e-3)
    encoded = codec.encode(jets[:700])
    assert encoded == balerc.compress(jets[:700], model=model, max_rel_error=1e-3)
    assert np.array_equal(codec.decode(encoded), balerc.decompress(encoded))
    out = np.empty((700, 24), dtype=np.float32)
    codec.decode(encoded, out=out)
    assert np.array_equal(out, balerc.decompress(encoded))


def test_a_chunk_of_part_of_a_sample_is_refused(jets, model):
    with pytest.raises(balerc.BalercError, match="does not hold whole samples"):
        Balerc(model=model).encode(jets[:10, :7])


def test_a_zarr_array_stores_every_value_within_the_bound(jets, model, tmp_path):
    zarr = pytest.importorskip("zarr")
    data = jets[:3000]
    codec = Balerc(model=model, max_rel_error=1e-3)
    kwargs = {"zarr_format": 2} if int(zarr.__version__.split(".")[0]) >= 3 else {}
    stored = zarr.open_array(str(tmp_path / "jets.zarr"), mode="w", shape=data.shape, chunks=(1000, 24),
                             dtype="f4", compressor=codec, **kwargs)
    stored[:] = data
    again = zarr.open_array(str(tmp_path / "jets.zarr"), mode="r")
    restored = again[:]
    ranges = data.max(axis=0).astype(np.float64) - data.min(axis=0).astype(np.float64)
    for start in range(0, 3000, 1000):
        chunk = data[start:start + 1000]
        chunk_ranges = chunk.max(axis=0).astype(np.float64) - chunk.min(axis=0).astype(np.float64)
        error = np.abs(restored[start:start + 1000].astype(np.float64) - chunk)
        assert np.all(error <= 1e-3 * chunk_ranges * (1 + 1e-9))
    assert restored.dtype == np.float32 and ranges.shape == (24,)

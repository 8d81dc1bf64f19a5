"""A numcodecs codec that stores arrays compressed by a trained balerc model, for Zarr and
xarray: ``Balerc(model="jets.model", max_rel_error=1e-3)``, codec id ``balerc``.

Each chunk becomes the bytes of one ``.baler`` file, so what holds for ``balerc compress``
holds per chunk: the error bound on every value, the dtype restored. A chunk holds whole
samples of the layout the model was trained on (rows of its columns, frames of its fields);
chunk a table by rows only. Importing this module registers the codec; numcodecs also finds it
through its entry point.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ndarray_copy
from numcodecs.registry import register_codec

from . import BalercError, compress, decompress


class Balerc(Codec):
    """Compresses each chunk with the model directory ``model`` (as ``balerc.compress``)."""

    codec_id = "balerc"

    def __init__(
        self,
        model: str,
        max_rel_error: Optional[float] = None,
        max_abs_error: Optional[float] = None,
        latent_bits: Any = None,
        embed_model: Optional[bool] = None,
    ) -> None:
        self.model = os.fspath(model)
        self.max_rel_error = max_rel_error
        self.max_abs_error = max_abs_error
        self.latent_bits = latent_bits
        self.embed_model = embed_model
        self._sample_shape: Optional[Tuple[int, ...]] = None

    def sample_shape(self) -> Tuple[int, ...]:
        """One sample's shape, as the model directory's ``model.json`` records it."""
        if self._sample_shape is None:
            path = os.path.join(self.model, "model.json")
            try:
                with open(path, encoding="utf-8") as info:
                    self._sample_shape = tuple(json.load(info)["spec"]["sample_shape"])
            except (OSError, ValueError, KeyError) as e:
                raise BalercError(f"{self.model} is not a balerc model ({e})") from e
        return self._sample_shape

    def _samples(self, array: np.ndarray) -> np.ndarray:
        """A chunk as whole samples: already so, or its values in sample order."""
        shape = self.sample_shape()
        if array.shape[1:] == shape:
            return array
        per_sample = int(np.prod(shape))
        if array.size % per_sample != 0:
            raise BalercError(
                f"a chunk of shape {array.shape} does not hold whole samples of shape {shape}: "
                "chunk the array along its first axis only"
            )
        return array.reshape((-1,) + shape)

    def encode(self, buf: Any) -> bytes:
        array = np.ascontiguousarray(buf)
        return compress(
            self._samples(array),
            model=self.model,
            max_rel_error=self.max_rel_error,
            max_abs_error=self.max_abs_error,
            latent_bits=self.latent_bits,
            embed_model=self.embed_model,
        )

    def decode(self, buf: Any, out: Any = None) -> Any:
        array = decompress(ensure_bytes(buf), model=self.model)
        return ndarray_copy(array, out)

    def get_config(self) -> Dict[str, Any]:
        config: Dict[str, Any] = {"id": self.codec_id, "model": self.model}
        for key in ("max_rel_error", "max_abs_error", "latent_bits", "embed_model"):
            value = getattr(self, key)
            if value is not None:
                config[key] = value
        return config

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"Balerc({settings})"


register_codec(Balerc)

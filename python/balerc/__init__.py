"""balerc: autoencoder compression for scientific data, with an error bound held on every
value, and a compiler from trained autoencoders to bit-exact FPGA hardware.

numpy in, numpy out::

    import balerc, numpy as np
    jets = np.load("jets.npz")["data"]
    balerc.train(jets, out="jets.model", epochs=20)
    blob = balerc.compress(jets, model="jets.model", max_rel_error=1e-3)
    restored = balerc.decompress(blob)

Every function does what the ``balerc`` command of the same name does, through the same
library; a failure raises :class:`BalercError` (a ``ValueError``) with the command's message.
Long work releases the GIL.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _balerc
from ._balerc import BalercError

__version__: str = _balerc.__version__

__all__ = [
    "BalercError",
    "train",
    "compress",
    "decompress",
    "compress_file",
    "decompress_file",
    "lower",
    "simulate",
]

PathLike = Union[str, "os.PathLike[str]"]

# numpy's (kind, bytes per item) to the dtype names balerc stores.
_STORED = {
    ("f", 2): "f16", ("f", 4): "f32", ("f", 8): "f64",
    ("i", 1): "i8", ("i", 2): "i16", ("i", 4): "i32", ("i", 8): "i64",
    ("u", 1): "u8", ("u", 2): "u16", ("u", 4): "u32", ("u", 8): "u64",
    ("b", 1): "bool",
}
_NUMPY = {
    "f16": np.float16, "f32": np.float32, "f64": np.float64,
    "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64,
    "bool": np.bool_,
}
# Sections of balerc.toml, for settings given as keyword arguments (model_preset="fast").
_SECTIONS = ("data", "model", "training", "output")


def _values(array: Any) -> "tuple[np.ndarray, str]":
    """The array as contiguous float64 values, and the name of the dtype balerc stores it as."""
    a = np.asarray(array)
    stored = _STORED.get((a.dtype.kind, a.dtype.itemsize))
    if stored is None:
        raise BalercError(f"balerc stores no values of dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64), stored


def _path(path: Optional[PathLike]) -> Optional[str]:
    return None if path is None else os.fspath(path)


def _toml(value: Any) -> str:
    """A Python value as a TOML value, as ``--set section.key=value`` takes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (os.PathLike, str)):
        return json.dumps(os.fspath(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise BalercError(f"a setting's value must be a bool, number, string or list, not {type(value).__name__}")


def _overrides(settings: Optional[Mapping[str, Any]], options: Mapping[str, Any]) -> "list[str]":
    """``section.key=value`` lines from dotted keys and from ``section_key`` keyword arguments."""
    lines = [f"{key}={_toml(value)}" for key, value in (settings or {}).items()]
    for key, value in options.items():
        section, _, name = key.partition("_")
        if section not in _SECTIONS or not name:
            raise BalercError(
                f"unknown setting '{key}': name a balerc.toml option as section_key "
                f"(one of {', '.join(_SECTIONS)}), e.g. training_lr=1e-3, or pass settings={{'training.lr': 1e-3}}"
            )
        lines.append(f"{section}.{name}={_toml(value)}")
    return lines


def train(
    data: Union[PathLike, Sequence[PathLike], np.ndarray],
    out: Optional[PathLike] = None,
    *,
    epochs: Optional[int] = None,
    latent: Optional[int] = None,
    seed: Optional[int] = None,
    columns: Optional[Sequence[str]] = None,
    qat: Optional[str] = None,
    device: str = "cpu",
    outliers: Optional[bool] = None,
    settings: Optional[Mapping[str, Any]] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Trains an autoencoder and saves its model directory, as ``balerc train --input``.

    ``data`` is a data file (``.npz``, ``.npy``, ``.csv``, ``.parquet``, ``FILE.h5:OBJECT``), a
    list of them, a project folder (or its ``balerc.toml``), or a numpy array (then ``out`` is
    needed). Without ``out``, the model goes next to the first file (``jets.npz``:
    ``jets.model``). Any option of ``balerc.toml`` is set as ``settings={"model.preset":
    "fast"}`` or as a keyword ``model_preset="fast"``. ``outliers=True`` trains again without
    the samples whose latent density is far below the bulk. Returns a summary with
    ``model_dir``, ``epochs``, ``train_loss``, ``best_validation_loss``, ``seconds``.
    """
    overrides = _overrides(settings, options)
    if epochs is not None:
        overrides.append(f"training.epochs={int(epochs)}")
    if latent is not None:
        overrides.append(f"model.latent={int(latent)}")
    if seed is not None:
        overrides.append(f"training.seed={int(seed)}")
    if columns:
        overrides.append(f"data.columns={_toml(list(columns))}")
    if qat is not None:
        qat = os.path.abspath(qat) if os.path.isfile(qat) else qat
        overrides.append(f"training.qat={_toml(qat)}")
    if isinstance(data, np.ndarray):
        if out is None:
            raise BalercError("training on an array needs out, the model directory to write")
        with tempfile.TemporaryDirectory(prefix=".balerc-") as staging:
            staged = os.path.join(staging, "data.npy")
            np.save(staged, data)
            return json.loads(_balerc.train([staged], _path(out), overrides, device, outliers))
    inputs = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    return json.loads(_balerc.train([os.fspath(p) for p in inputs], _path(out), overrides, device, outliers))


def _settings(model: PathLike, **given: Any) -> str:
    """Compression settings as the native module reads them."""
    settings: Dict[str, Any] = {"model": os.fspath(model)}
    for key, value in given.items():
        if value is None:
            continue
        if key == "encoder_hardware":
            value = os.fspath(value)
        if key in ("relations", "columns"):
            value = [str(v) for v in value]
        settings[key] = value
    return json.dumps(settings)


def compress(
    array: Any,
    model: PathLike,
    max_rel_error: Optional[float] = None,
    max_abs_error: Optional[float] = None,
    *,
    latent_bits: Union[int, str, None] = None,
    embed_model: Optional[bool] = None,
    chunk_samples: Optional[int] = None,
    relations: Iterable[str] = (),
    outliers: Optional[str] = None,
    columns: Iterable[str] = (),
    encoder_precision: Optional[str] = None,
    encoder_hardware: Optional[PathLike] = None,
) -> bytes:
    """Compresses an array (samples along the first axis, the layout the model was trained on)
    into the bytes of a ``.baler`` file: the bytes ``balerc compress`` writes for the same array
    saved as a ``.npy`` file.

    ``max_rel_error`` bounds every value's error by that share of its column's range,
    ``max_abs_error`` in the data's units; without either, the autoencoder's reconstruction
    alone (lossy). The other options are ``balerc compress``'s.
    """
    values, dtype = _values(array)
    settings = _settings(
        model,
        max_rel_error=max_rel_error,
        max_abs_error=max_abs_error,
        latent_bits=latent_bits,
        embed_model=embed_model,
        chunk_samples=chunk_samples,
        relations=list(relations),
        outliers=outliers,
        columns=list(columns),
        encoder_precision=encoder_precision,
        encoder_hardware=encoder_hardware,
    )
    blob, _report = _balerc.compress(values, dtype, settings)
    return blob


def decompress(blob: Union[bytes, bytearray, memoryview], model: Optional[PathLike] = None) -> np.ndarray:
    """The array that the bytes of a ``.baler`` file hold, in its original dtype and shape.
    ``model`` is the model directory, needed when the file does not embed its decoder and the
    directory it records has moved."""
    values, dtype, _report = _balerc.decompress(bytes(blob), _path(model))
    return values.astype(_NUMPY[dtype], copy=False)


def compress_file(
    input: PathLike,
    output: PathLike,
    model: PathLike,
    max_rel_error: Optional[float] = None,
    max_abs_error: Optional[float] = None,
    *,
    latent_bits: Union[int, str, None] = None,
    embed_model: Optional[bool] = None,
    chunk_samples: Optional[int] = None,
    relations: Iterable[str] = (),
    outliers: Optional[str] = None,
    columns: Iterable[str] = (),
    encoder_precision: Optional[str] = None,
    encoder_hardware: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """``balerc compress --input INPUT --output OUTPUT --model MODEL``: streams the file in
    chunks on all cores; the output appears whole or not at all. Returns the report
    (``samples``, ``original_bytes``, ``compressed_bytes``, ``seconds``, ...)."""
    settings = _settings(
        model,
        max_rel_error=max_rel_error,
        max_abs_error=max_abs_error,
        latent_bits=latent_bits,
        embed_model=embed_model,
        chunk_samples=chunk_samples,
        relations=list(relations),
        outliers=outliers,
        columns=list(columns),
        encoder_precision=encoder_precision,
        encoder_hardware=encoder_hardware,
    )
    return json.loads(_balerc.compress_file(os.fspath(input), os.fspath(output), settings))


def decompress_file(
    input: PathLike,
    output: PathLike,
    model: Optional[PathLike] = None,
    *,
    decoder_precision: Optional[str] = None,
) -> Dict[str, Any]:
    """``balerc decompress --input INPUT --output OUTPUT``: writes the data in the form the
    output's extension names (``.npz``, ``.npy``, ``.csv``, ...). Returns the report."""
    report = _balerc.decompress_file(os.fspath(input), os.fspath(output), _path(model), decoder_precision)
    return json.loads(report)


def lower(
    model: PathLike,
    target: Optional[str] = None,
    precision: Optional[str] = None,
    out: Optional[PathLike] = None,
    *,
    part: str = "full",
    config: Optional[PathLike] = None,
    calibration: Any = None,
    **hardware: Any,
) -> Dict[str, Any]:
    """``balerc lower``: lowers an ONNX file or a model directory to the quantized IR and, with
    ``out``, writes a build directory for ``target`` (``"verilog"``, the default, or
    ``"hls"``), whole or not at all.

    ``precision`` is the default type of every tensor (``"ap_fixed<16,6>"``), ``config`` a
    precision TOML file; a model directory trained with ``qat`` brings its own. ``calibration``
    is an array of samples that integer bits are chosen from. ``hardware`` takes the build
    options by their command-line names: ``top``, ``multipliers``, ``dsp_cost``,
    ``dsp_budget``, ``clock_ns``, ``reuse_factor``, ``sharing_pairs``, ``io``, ``fpga_part``,
    ``adder_levels_per_stage``. Returns ``precision_table`` (the per-layer table ``lower``
    prints) and, for a build, ``build_dir`` and its ``report`` (``report.json``).
    """
    if out is not None and target is None:
        target = "verilog"
    if target is not None and out is None:
        raise BalercError("a target needs out, the build directory to write")
    calibration_values = None if calibration is None else _values(calibration)[0]
    table = _balerc.lower(
        os.fspath(model),
        part,
        precision,
        _path(config),
        calibration_values,
        target,
        _path(out),
        json.dumps(hardware),
    )
    result: Dict[str, Any] = {"precision_table": table, "build_dir": None, "report": None}
    if out is not None:
        result["build_dir"] = os.fspath(out)
        with open(os.path.join(os.fspath(out), "report.json"), encoding="utf-8") as report:
            result["report"] = json.load(report)
    return result


def simulate(
    model: PathLike,
    array: Any,
    precision: Optional[str] = None,
    raw: bool = False,
    *,
    part: str = "full",
    config: Optional[PathLike] = None,
    float: bool = False,
) -> np.ndarray:
    """``balerc simulate``: runs the quantized model bit-exactly on a batch (samples along the
    first axis). Returns the output values (float64, exactly the fixed-point values), or with
    ``raw`` their int64 codes, or with ``float`` the same graph in floating point; the output
    has the model's output shape with the batch first."""
    values, _ = _values(array)
    return _balerc.simulate(os.fspath(model), values, part, precision, _path(config), raw, float)

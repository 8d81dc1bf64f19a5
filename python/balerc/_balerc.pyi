"""Type stubs of the native module; the documented API is in ``balerc/__init__.py``."""

from typing import Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class BalercError(ValueError):
    """A failure of balerc, its message the one sentence the command line prints."""

def train(
    inputs: Sequence[str],
    out: Optional[str] = None,
    overrides: Sequence[str] = ...,
    device: str = "cpu",
    outliers: Optional[bool] = None,
) -> str: ...
def compress(values: npt.NDArray[np.float64], dtype: str, settings: str) -> Tuple[bytes, str]: ...
def decompress(blob: bytes, model: Optional[str] = None) -> Tuple[npt.NDArray[np.float64], str, str]: ...
def compress_file(input: str, output: str, settings: str) -> str: ...
def decompress_file(
    input: str, output: str, model: Optional[str] = None, decoder_precision: Optional[str] = None
) -> str: ...
def lower(
    model: str,
    part: str = "full",
    precision: Optional[str] = None,
    config: Optional[str] = None,
    calibration: Optional[npt.NDArray[np.float64]] = None,
    target: Optional[str] = None,
    out: Optional[str] = None,
    hardware: str = "{}",
) -> str: ...
def simulate(
    model: str,
    values: npt.NDArray[np.float64],
    part: str = "full",
    precision: Optional[str] = None,
    config: Optional[str] = None,
    raw: bool = False,
    float: bool = False,
) -> npt.NDArray[np.float64] | npt.NDArray[np.int64]: ...

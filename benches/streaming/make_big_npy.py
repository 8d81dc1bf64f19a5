#!/usr/bin/env python3
"""Writes a large .npy of samples like a shared data set's (rows of a table, frames of a field):
its samples tiled, each copy with a little noise, written piece by piece so this script never
holds more than one copy. The dtype is the data set's.

    make_big_npy.py DATA.npz OUT.npy GIGABYTES
"""
import sys

import numpy as np

source, out, gigabytes = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = np.load(source)["data"]
sample_shape = data.shape[1:]
sample_bytes = data[0].nbytes
samples = int(gigabytes * 1e9) // sample_bytes
# Integer values (such as a jet's n_const) stay integers; the others get 0.1% multiplicative noise.
integer = np.all(data == np.round(data), axis=0)
rng = np.random.default_rng(0)

header = np.lib.format.header_data_from_array_1_0(np.zeros((0, *sample_shape), data.dtype))
header["shape"] = (samples, *sample_shape)
with open(out, "wb") as f:
    np.lib.format.write_array_header_2_0(f, header)
    written = 0
    while written < samples:
        take = min(len(data), samples - written)
        piece = data[:take].copy()
        noise = 1 + 1e-3 * rng.standard_normal(piece.shape).astype(data.dtype)
        piece = np.where(integer, piece, piece * noise).astype(data.dtype)
        f.write(piece.tobytes())
        written += take
print(f"{out}: {samples} samples of {list(sample_shape)} {data.dtype} ({samples * sample_bytes / 1e9:.2f} GB)")

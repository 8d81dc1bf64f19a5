#!/usr/bin/env python3
"""Writes a large float32 .npy of jets-like rows: the shared jets tiled, each copy with a
little noise, written piece by piece so this script never holds more than one copy.

    make_big_npy.py JETS.npz OUT.npy GIGABYTES
"""
import sys

import numpy as np

source, out, gigabytes = sys.argv[1], sys.argv[2], float(sys.argv[3])
jets = np.load(source)["data"].astype(np.float32)
rows = int(gigabytes * 1e9) // (jets.shape[1] * 4)
columns = jets.shape[1]
# Integer columns (such as n_const) stay integers; the others get 0.1% multiplicative noise.
integer = np.all(jets == np.round(jets), axis=0)
rng = np.random.default_rng(0)

header = np.lib.format.header_data_from_array_1_0(np.zeros((0, columns), np.float32))
header["shape"] = (rows, columns)
with open(out, "wb") as f:
    np.lib.format.write_array_header_2_0(f, header)
    written = 0
    while written < rows:
        take = min(len(jets), rows - written)
        piece = jets[:take].copy()
        noise = 1 + 1e-3 * rng.standard_normal(piece.shape, dtype=np.float32)
        piece[:, ~integer] *= noise[:, ~integer]
        f.write(piece.tobytes())
        written += take
print(f"{out}: {rows} rows x {columns} float32 ({rows * columns * 4 / 1e9:.2f} GB)")

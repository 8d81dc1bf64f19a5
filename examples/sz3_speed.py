#!/usr/bin/env python3
"""SZ3's ratio and speed on a table, each column within REL of its range, as balerc compress
prints them: the quickstart shows it beside balerc's fast preset. Needs numpy and pysz.

    python3 examples/sz3_speed.py DATA.npz REL
"""
import sys
import time

import numpy as np
import pysz

data = np.load(sys.argv[1])["data"]
rel = float(sys.argv[2])
stored = 0
started = time.perf_counter()
for column in data.T:
    config = pysz.szConfig(column.shape)
    config.errorBoundMode = pysz.szErrorBoundMode.REL
    config.relErrorBound = rel
    packed, _ = pysz.sz.compress(np.ascontiguousarray(column), config)
    stored += len(packed)
seconds = time.perf_counter() - started
print(f"SZ3 per column, REL {rel:g}: {data.nbytes} -> {stored} bytes, ratio {data.nbytes / stored:.2f}; "
      f"{seconds:.3f} s, {data.nbytes / seconds / 1e6:.1f} MB/s (in-process, no file I/O)")

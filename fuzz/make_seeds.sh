#!/usr/bin/env bash
# Writes the seed corpora under fuzz/corpus: small real .baler files for `container`, then the
# other targets' seeds from the codec's own encoders (and `header` from the container seeds).
# Needs the release balerc binary (cargo build --release) and numpy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
target_dir="${CARGO_TARGET_DIR:-$root/target}"
balerc="${BALERC:-$target_dir/release/balerc}"
model="$root/codec/tests/fixtures/jets_model"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 50 rows of the jets table.
python3 - "$root/../shared/data/jets_pythia_24col.npz" "$work/jets50.npz" <<'EOF'
import sys, numpy as np
data = np.load(sys.argv[1])
np.savez(sys.argv[2], data=data["data"][:50], names=data["names"])
EOF

compress() {
    "$balerc" compress --model "$model" --input "$work/jets50.npz" --output "$work/$1.baler" "${@:2}" >/dev/null
}
compress bounded --max-rel-error 1e-3 --embed-model --relation 'px = pt * cos(phi)' --chunk-samples 20
compress lossy --latent-bits 8

# The first byte is the target's mode: 1 sets the checksums right before reading, 0 reads as is.
corpus="$here/corpus/container"
rm -rf "$corpus" && mkdir -p "$corpus"
{ printf '\001'; cat "$work/bounded.baler"; } >"$corpus/bounded.baler"
{ printf '\000'; cat "$work/lossy.baler"; } >"$corpus/lossy.baler"
{ printf '\000'; cat "$root/codec/src/container/v1_sample.baler"; } >"$corpus/v1_sample.baler"

cd "$root"
cargo test --release -p balerc-codec --lib write_seed_corpora -- --ignored --quiet
du -sh "$here"/corpus/*

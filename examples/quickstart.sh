#!/usr/bin/env bash
# Trains Baler's dense autoencoder on 5000 bundled jets, compresses them with a guaranteed error
# bound, restores and evaluates them, and lowers the trained encoder; then lowers the
# bundled FPGA prototype (16-20-10-8-10-20-16, trained on jets) to fixed point, runs it
# bit-exactly on 1000 held-out jets, and writes its encoder as Verilog.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p examples/output
# balerc reads HDF5 files through the system's libhdf5: Debian's libhdf5-dev to build.
if command -v apt-get >/dev/null && ! dpkg -s libhdf5-dev >/dev/null 2>&1; then
    echo "== installing libhdf5-dev and pkg-config"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi
balerc() { cargo run --release --quiet -- "$@"; }

project=examples/output/project
echo "== a new project, trained on 5000 jets (24 variables -> 15 latent values)"
rm -rf "$project"
balerc new "$project"
cp examples/data/jets_sample.npz "$project/data/"
balerc train "$project" --set "data.input=['data/jets_sample.npz']" --epochs 40
echo "== compress the jets with it (every value within 1e-3 of its column's range), restore, evaluate"
balerc compress --model "$project/models/model" --input examples/data/jets_sample.npz \
    --output "$project/outputs/jets.baler" --max-rel-error 1e-3
balerc info "$project/outputs/jets.baler"
balerc decompress --input "$project/outputs/jets.baler" --output "$project/outputs/restored.npz" \
    --model "$project/models/model"
balerc evaluate --original examples/data/jets_sample.npz --reconstructed "$project/outputs/restored.npz" \
    --compressed "$project/outputs/jets.baler" --model "$project/models/model" \
    --loss "$project/outputs/training/loss.csv" --out "$project/outputs/evaluation" | tail -3
echo "== the fast preset (24-32-16-8 latent): the same jets, and SZ3 on them where pysz is installed"
fast=examples/output/fast
rm -rf "$fast"
balerc new "$fast"
balerc train "$fast" --input examples/data/jets_sample.npz --set model.preset=fast --epochs 40 | tail -1
balerc compress --model "$fast/models/model" --input examples/data/jets_sample.npz \
    --output "$fast/jets.baler" --max-rel-error 1e-3
python3 examples/sz3_speed.py examples/data/jets_sample.npz 1e-3 || echo "(pip install pysz numpy to see SZ3 beside it)"
echo "== the trained encoder, lowered straight from the model directory"
balerc lower "$project/models/model" --part encoder --precision 'ap_fixed<16,6>'

model=examples/models/fpga_autoencoder.onnx
data=examples/data/jets16_sample.npy

echo "== the encoder at ap_fixed<16,6>, as a hardware designer would start"
balerc lower "$model" --part encoder --precision 'ap_fixed<16,6>' --dump-ir

echo "== the full autoencoder with integer bits calibrated on the data"
balerc lower "$model" --precision 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>' --calibration "$data"

echo "== bit-exact simulation: values, raw codes, and the float reference"
balerc simulate "$model" --precision 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>' --calibration "$data" \
    --input "$data" --output examples/output/reconstructed.npy
balerc simulate "$model" --precision 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>' --calibration "$data" \
    --input "$data" --output examples/output/reconstructed_codes.npy --raw
balerc simulate "$model" --float --input "$data" --output examples/output/reconstructed_float.npy

echo "== the encoder as Verilog (shift-add, pipelined for a 5 ns clock), checked bit for bit"
balerc lower "$model" --part encoder --precision 'ap_fixed<16,6>' --target verilog --out examples/output/encoder_rtl
if command -v verilator >/dev/null; then
    balerc cosim examples/output/encoder_rtl --vectors 1000 --input "$data"
else
    echo "(install verilator to co-simulate: balerc cosim examples/output/encoder_rtl)"
fi

#!/usr/bin/env bash
# The whole path from data to an FPGA compressor, on the bundled jets (see docs/tutorial.md):
# a new project, training a small ReLU autoencoder, its encoder lowered to Verilog and HLS and
# checked bit for bit, then compression with that very encoder, decompression and a side-by-side
# evaluation against the float encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
balerc() { cargo run --release --quiet -- "$@"; }

work=examples/output/tutorial
data=examples/data/jets_sample.npz
model=$work/models/model
precision='ap_fixed<16,6>'
rm -rf "$work"

echo "== 1. a project, and an encoder small enough for the readout: 24 -> 20 -> 10 -> 8, ReLU,"
echo "==    trained for the hardware's arithmetic at $precision (quantization-aware training)"
balerc new "$work"
balerc train "$work" --input "$data" --epochs 60 --latent 8 \
    --set 'model.hidden=[20, 10]' --set model.activation=relu --qat "$precision"

echo "== 2. the ONNX files of the model directory (balerc train writes them; export-onnx rewrites them)"
balerc export-onnx "$model"
ls "$model"

echo "== 3. the encoder at the precision it was trained for (the model's precision.toml), then Verilog and HLS"
balerc lower "$model" --part encoder
balerc lower "$model" --part encoder --target verilog --clock-ns 5 --out "$work/encoder_rtl"
balerc lower "$model" --part encoder --target hls --clock-ns 5 --out "$work/encoder_hls"

echo "== 4. co-simulation: the RTL and the HLS C++ against the bit-exact simulator"
if command -v verilator >/dev/null; then
    balerc cosim "$work/encoder_rtl" --vectors 2000
else
    echo "(install verilator to run: balerc cosim $work/encoder_rtl)"
fi
if [ -n "${AP_TYPES_INCLUDE:-}" ] && command -v g++ >/dev/null; then
    balerc cosim "$work/encoder_hls" --simulator gxx --vectors 500
else
    echo "(set AP_TYPES_INCLUDE to the ap_types headers to run: balerc cosim $work/encoder_hls --simulator gxx)"
fi

echo "== 5. compress with the float encoder and with the FPGA's encoder, restore both"
for encoder in float fpga; do
    extra=()
    [ "$encoder" = fpga ] && extra=(--encoder-hardware "$work/encoder_rtl")
    balerc compress --model "$model" --input "$data" --output "$work/$encoder.baler" "${extra[@]}"
    balerc decompress --input "$work/$encoder.baler" --output "$work/$encoder.npz" --model "$model"
done
balerc info "$work/fpga.baler"

echo "== 6. what the hardware costs in quality, side by side"
balerc evaluate --original "$data" \
    --reconstructed "float=$work/float.npz" --compressed "$work/float.baler" \
    --reconstructed "fpga=$work/fpga.npz" --compressed "$work/fpga.baler" \
    --model "$model" --out "$work/evaluation" | tail -6

echo "== 7. the same with a guaranteed bound: every value within 1e-3 of its column's range"
balerc compress --model "$model" --input "$data" --output "$work/bounded.baler" \
    --encoder-hardware "$work/encoder_rtl" --max-rel-error 1e-3
balerc decompress --input "$work/bounded.baler" --output "$work/bounded.npz" --model "$model"

echo "Done: open $work/evaluation/index.html; the RTL is in $work/encoder_rtl (README.md there says how to take it into Vivado)."

#!/usr/bin/env bash
# Compresses and decompresses a .npy larger than a few GB with a small model, and reports peak
# memory (RSS) and throughput, with all cores and with one.
#
#   benches/streaming/run.sh [GIGABYTES] [WORKDIR]
#   DATA=cfd benches/streaming/run.sh [GIGABYTES] [WORKDIR]
#
# DATA=jets (the default) tiles the shared jets (float32 rows) and compresses them with
# --max-rel-error 1e-3; DATA=cfd tiles the CFD frames (float64, 50 x 50) for a conv2d model and
# compresses them with --max-abs-error 1.555e-3. Needs numpy, /usr/bin/time and about
# 2.5 x GIGABYTES of free disk in WORKDIR (default a fresh temporary directory), which is
# deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
gigabytes=${1:-2}
work=${2:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
shared=../shared/data

cargo build --release --quiet
balerc=${CARGO_TARGET_DIR:-target}/release/balerc

"$balerc" new "$work/project" >/dev/null
case ${DATA:-jets} in
    jets)
        source=${JETS:-$shared/jets_pythia_24col.npz}
        "$balerc" train "$work/project" --input "$source" --epochs 5 >/dev/null
        bound=(--max-rel-error 1e-3)
        ;;
    cfd)
        source=${CFD:-$shared/cfd_animation_60x50x50.npz}
        "$balerc" train "$work/project" --input "$source" --epochs 100 --set model.kind=conv2d \
            --set 'model.channels=[16,32,32]' --set 'model.hidden=[]' --set model.latent=20 \
            --set training.batch_size=8 >/dev/null
        bound=(--max-abs-error 1.555e-3)
        ;;
    *)
        echo "DATA must be jets or cfd" >&2
        exit 2
        ;;
esac
model="$work/project/models/model"
python3 benches/streaming/make_big_npy.py "$source" "$work/big.npy" "$gigabytes"

# Runs a command under /usr/bin/time and prints its wall time, peak RSS and MB/s of BYTES.
measure() {
    local label=$1 bytes=$2
    shift 2
    /usr/bin/time -v "$@" >"$work/out.txt" 2>"$work/time.txt"
    local seconds rss
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    awk -v l="$label" -v s="$seconds" -v r="$rss" -v b="$bytes" \
        'BEGIN {printf "%-34s %8.1f s %8.1f MB peak RSS %8.1f MB/s\n", l, s, r / 1024, b / 1e6 / s}'
}

size=$(stat -c %s "$work/big.npy")
for threads in "" 1; do
    label=${threads:+, 1 thread}
    export RAYON_NUM_THREADS=${threads:-$(nproc)}
    measure "compress ${bound[*]}${label}" "$size" \
        "$balerc" compress --model "$model" --input "$work/big.npy" --output "$work/big.baler" "${bound[@]}"
    measure "decompress${label}" "$size" \
        "$balerc" decompress --model "$model" --input "$work/big.baler" --output "$work/restored.npy"
    rm -f "$work/restored.npy"
done
ls -l "$work/big.npy" "$work/big.baler" | awk '{print $5, $9}'

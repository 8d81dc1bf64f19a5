#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...]: builds the targets with cargo-afl, fuzzes each one for
# SECONDS (600 by default) with AFL++, JOBS (2 by default) at a time at the lowest priority,
# then prints per target what fuzzer_stats says. Every target when none is named; each run
# starts afresh in out/TARGET.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
seconds="${1:-600}"
shift || true
if (($# == 0)); then
    set -- $(ls src/bin | sed 's/\.rs$//')
fi
jobs="${JOBS:-2}"

export CARGO_TARGET_DIR="$here/target"
nice -n 19 cargo afl build --release --quiet

# No CPU frequency tuning or core pinning (the machine is shared), no crash reporter to
# disable, no curses screen.
export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1

fuzz() {
    local name="$1"
    rm -rf "out/$name"
    # -m: a decoder must not allocate 1 GB; past that the allocation fails and AFL++ counts a crash.
    nice -n 19 cargo afl fuzz -V "$seconds" -m 1024 -t 1000 -i "corpus/$name" -o "out/$name" \
        -- "target/release/$name" >"out/$name.log" 2>&1 || echo "$name: afl-fuzz failed, see out/$name.log" >&2
}

mkdir -p out
for name in "$@"; do
    [[ -d "corpus/$name" ]] || { echo "no corpus/$name" >&2; exit 1; }
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
    echo "fuzzing $name for ${seconds}s"
    fuzz "$name" &
done
wait

stat() { sed -n "s/^$1 *: *//p" "$2"; }
echo
echo "| target | seconds | executions | paths | crashes | hangs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in "$@"; do
    stats="out/$name/default/fuzzer_stats"
    [[ -f "$stats" ]] || { echo "| $name | no fuzzer_stats | | | | |"; continue; }
    echo "| $name | $(stat run_time "$stats") | $(stat execs_done "$stats") | $(stat corpus_count "$stats") |" \
        "$(stat saved_crashes "$stats") | $(stat saved_hangs "$stats") |"
done

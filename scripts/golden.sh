#!/usr/bin/env bash
# Golden-output check for refactors that must not change any number.
#
#   scripts/golden.sh record   # write scripts/golden.sha256 from the current code
#   scripts/golden.sh check    # rebuild, rerun, compare with scripts/golden.sha256
#   GOLDEN_BIN=PATH scripts/golden.sh record|check   # use that binary (e.g. one built from the
#                                                    # commit before a refactor) and build nothing
#
# Runs every bundled scenario (scenarios/*.toml; the two slowest with fewer steps), `validate`
# and `optimum --json` on each, one small sweep (a reduced scenarios/sweeps/noise-temperature.toml)
# and every figure's `--quick` run, all with the release binary, into a temporary folder, and hashes
# the outputs with measured fields removed: metrics.csv without wall_seconds, summary.json, figure and
# optimum JSON without "*seconds"/"*_per_sec" fields and without the measured "peak_rss_bytes",
# sweep.csv without wall_seconds, particles.npy, scenario.toml and the SVG figures as they are.
set -euo pipefail

mode=${1:-check}
root=$(cd "$(dirname "$0")/.." && pwd)
golden="$root/scripts/golden.sha256"
cd "$root"
if [ -n "${GOLDEN_BIN:-}" ]; then
    bin=$(cd "$(dirname "$GOLDEN_BIN")" && pwd)/$(basename "$GOLDEN_BIN")
else
    cargo build --release --quiet
    bin="$root/target/release/meanfield"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
mkdir -p "$out"

# Drop the named column of a CSV file (first line is the header).
drop_column() {
    awk -F, -v col="$2" 'BEGIN { OFS = "," }
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) skip = i }
        { line = ""; sep = ""
          for (i = 1; i <= NF; i++) if (i != skip) { line = line sep $i; sep = "," }
          print line }' "$1"
}

# Timing and peak-memory lines of pretty-printed JSON, and the temporary folder in file paths.
strip_json() {
    sed -E -e 's/"[A-Za-z_]*(seconds|_per_sec)": *[-+0-9.eE]+,?//g' -e 's/"peak_rss_bytes": *([0-9]+|null),?//g' \
        -e "s#$tmp#TMP#g" "$1"
}

hash_file() { # label, file
    local f=$2
    case "$f" in
        *metrics.csv | *sweep.csv) drop_column "$f" wall_seconds | sha256sum ;;
        *.json) strip_json "$f" | sha256sum ;;
        *) sha256sum <"$f" ;;
    esac | awk -v l="$1" '{ print $1 "  " l }'
}

hash_tree() { # folder, label prefix
    (cd "$1" && find . -type f \( -name '*.csv' -o -name '*.npy' -o -name '*.json' \
        -o -name '*.toml' -o -name '*.svg' \) | LC_ALL=C sort) | while read -r f; do
        hash_file "$2/${f#./}" "$1/$f"
    done
}

{
    for s in scenarios/*.toml; do
        name=$(basename "$s" .toml)
        extra=()
        case "$name" in
            paper-d) extra=(--set run.steps=600) ;;
            teacher) extra=(--set run.steps=1500) ;;
        esac
        "$bin" validate "$s" "${extra[@]}" >"$out/$name.validate.toml"
        hash_file "validate/$name" "$out/$name.validate.toml"
        "$bin" run "$s" "${extra[@]}" --out "$out/run/$name" --quiet
        hash_tree "$out/run/$name" "run/$name"
        if [ "$name" != paper-d ] && [ "$name" != teacher ]; then
            "$bin" optimum "$s" --json >"$out/$name.optimum.json"
            hash_file "optimum/$name" "$out/$name.optimum.json"
        fi
    done

    cat >"$tmp/golden-sweep.toml" <<TOML
name = "golden"
base = "$root/scenarios/certify-xor3.toml"
set = ["dynamics.kind=langevin+perturbed", "run.plots=false", "run.certify_every=200", "run.steps=600"]
seeds = 2
[[axis]]
key = "dynamics.sigma"
values = [0.0, 1e-2]
scale = "log"
[[axis]]
key = "dynamics.tau"
values = [0.0, 1e-5]
scale = "log"
[[plot]]
kind = "heatmap"
x = "dynamics.sigma"
y = "dynamics.tau"
value = "gap"
scale = "log"
[[plot]]
kind = "line"
x = "dynamics.tau"
y = "excess"
group = "dynamics.sigma"
scale = "log"
TOML
    "$bin" sweep "$tmp/golden-sweep.toml" --out "$out/sweep" --quiet --jobs 2 >/dev/null
    hash_file "sweep/sweep.csv" "$out/sweep/sweep.csv"
    hash_tree "$out/sweep/runs" "sweep/runs"
    for f in "$out"/sweep/*.svg; do hash_file "sweep/$(basename "$f")" "$f"; done

    for fig in $("$bin" figure --list | awk '{ print $1 }'); do
        "$bin" figure "$fig" --quick --out "$out/figures" --quiet >/dev/null
    done
    hash_tree "$out/figures" "figures"
} >"$tmp/hashes"

case "$mode" in
    record)
        cp "$tmp/hashes" "$golden"
        echo "recorded $(wc -l <"$golden") hashes in scripts/golden.sha256"
        ;;
    check)
        if diff -u "$golden" "$tmp/hashes"; then
            echo "golden check passed: $(wc -l <"$golden") outputs identical"
        else
            echo "golden check FAILED: outputs differ (lines above)" >&2
            exit 1
        fi
        ;;
    *)
        echo "usage: scripts/golden.sh record|check" >&2
        exit 2
        ;;
esac

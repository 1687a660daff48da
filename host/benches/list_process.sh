#!/usr/bin/env bash
# Whole-process figures for docs/performance.md: wall time of
# `floe-telemetry list` over 3 (bundled), 10, 100 and 1000 plugin files, its
# peak memory, and what running a plugin in a process of its own costs.
# Needs hyperfine and GNU time (/usr/bin/time). Run from anywhere:
#   bash host/benches/list_process.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --quiet
bin=$PWD/target/release/floe-telemetry
jaeger=$PWD/target/release/libfloe_backend_jaeger.so

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for count in 10 100 1000; do
    mkdir "$work/$count"
    for i in $(seq -w 1 "$count"); do
        cp "$jaeger" "$work/$count/libjaeger_$i.so"
    done
done

list_in() { echo "$bin --no-default-plugin-dirs --plugin-dir $1 list"; }

echo "== list: wall time (hyperfine, 5 warm-up runs) =="
hyperfine -N --warmup 5 --runs 200 --style basic \
    "$bin list" \
    "$(list_in "$work/10")" \
    "$(list_in "$work/100")"
hyperfine -N --warmup 3 --runs 50 --style basic "$(list_in "$work/1000")"

echo "== list: peak memory (max RSS, KiB) =="
for dir in bundled 10 100 1000; do
    if [ "$dir" = bundled ]; then command="$bin list"; else command=$(list_in "$work/$dir"); fi
    # shellcheck disable=SC2086 # the command is split into its words on purpose
    /usr/bin/time -f "$dir: %M KiB" $command >/dev/null 2>"$work/time.txt" || true
    tail -n 1 "$work/time.txt"
done

echo "== a plugin in a process of its own: exporter-config jaeger =="
hyperfine -N --warmup 5 --runs 200 --style basic \
    "$bin --in-process exporter-config jaeger" \
    "$bin exporter-config jaeger"

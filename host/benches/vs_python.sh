#!/usr/bin/env bash
# Whole-process figures for `floe-telemetry exporter-config jaeger`, the
# command every floe deployment runs, against floe's own Python host doing
# the same work (host/benches/upstream_jaeger.py), on the same machine in one
# session:
#   1. wall time, floe-telemetry (default flags: plugins isolated) against
#      the Python host, and the ratio of their medians;
#   2. peak memory (GNU time's max RSS, the largest of several runs);
#   3. scale: the same command with 1000 more plugin files in a second plugin
#      directory, each declaring a backend of its own (relabelled copies of
#      jaeger, see relabel_plugins.py), and with 1000 plain copies (all
#      duplicates of jaeger), against the bundled plugins alone; then the
#      distinct files in a directory searched first, so all are looked at
#      (from the section index the warm-up runs write), and the same with
#      no cache directory, so all are read;
#   1b. the same command reading a configuration file that sets jaeger's
#      endpoint, protocol and chart, against none;
#   4. what isolation costs: isolated against --in-process, for
#      exporter-config and for check (which loads every plugin).
# It ends with the machine and a Markdown table for docs/performance.md.
#
# Run from anywhere:   bash host/benches/vs_python.sh
# Needs: cargo, python3 (with venv), hyperfine, GNU time (/usr/bin/time),
# network access to PyPI the first time. hyperfine and time are installed
# with apt-get when missing and running as root.
#
# The Python venv lives outside the repository, under
# ${XDG_CACHE_HOME:-~/.cache}/floe-telemetry-bench/, one per pinned version
# set, and is reused by later runs. Everything else goes to a temporary
# directory removed on exit (BENCH_KEEP=1 keeps it, with the hyperfine JSON).
#
# Knobs (environment): RUNS (timed runs of the fast pairs, default 200),
# PYTHON_RUNS (runs of the Python pair, default 40), SCALE_RUNS (runs of the
# 1000-file pairs, default 10), WARMUP (default 5), RSS_RUNS (default 10),
# EXTRA_PLUGINS (default 1000).
set -euo pipefail
# Command substitutions below run measurements: a failure there must stop too.
shopt -s inherit_errexit

FLOE_CORE_VERSION=0.1.0a1
FLOE_JAEGER_VERSION=0.1.0a1
RUNS=${RUNS:-200}
PYTHON_RUNS=${PYTHON_RUNS:-40}
SCALE_RUNS=${SCALE_RUNS:-10}
WARMUP=${WARMUP:-5}
RSS_RUNS=${RSS_RUNS:-10}
EXTRA_PLUGINS=${EXTRA_PLUGINS:-1000}

benches=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$benches/../.." && pwd)
cd "$repo"

say() { printf '\n== %s ==\n' "$*"; }
die() {
    echo "error: $*" >&2
    exit 1
}

need_tool() { # command, apt package
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $2 (apt-get)" >&2
        apt-get install -y -qq "$2" >/dev/null || die "could not install $2: run apt-get update, then apt-get install -y $2"
    else
        die "$1 is missing: install it with: apt-get install -y $2"
    fi
}
need_tool hyperfine hyperfine
need_tool /usr/bin/time time
command -v python3 >/dev/null || die "python3 is missing: install it with: apt-get install -y python3 python3-venv"

work=$(mktemp -d "${TMPDIR:-/tmp}/floe-bench.XXXXXX")
cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------
say "build (cargo build --release)"
cargo build --release --quiet
# Measured installed, as a package lays it out (the binary in bin/, the
# bundled plugins in lib/floe-telemetry/plugins/), copied with install(1):
# the file the linker writes starts about 0.2 ms slower than a copy of it
# (how its pages sit in the page cache), which users never run.
target=$repo/target/release
[ -x "$target/floe-telemetry" ] || die "no $target/floe-telemetry after the build"
prefix=$work/prefix
release=$prefix/lib/floe-telemetry/plugins
install -D -m 0755 "$target/floe-telemetry" "$prefix/bin/floe-telemetry"
mkdir -p "$release"
install -m 0755 "$target"/libfloe_backend_*.so "$release/"
bin=$prefix/bin/floe-telemetry
jaeger_so=$release/libfloe_backend_jaeger.so
[ -f "$jaeger_so" ] || die "no $jaeger_so after the build"

# --- the Python host ----------------------------------------------------------
py_tag=$(python3 -c 'import sys; print("py%d.%d" % sys.version_info[:2])')
cache=${XDG_CACHE_HOME:-$HOME/.cache}/floe-telemetry-bench
venv=$cache/venv-floe-core-$FLOE_CORE_VERSION-jaeger-$FLOE_JAEGER_VERSION-$py_tag
if [ ! -x "$venv/bin/python" ]; then
    say "python venv (first run): $venv"
    mkdir -p "$cache"
    # Built beside its final place and renamed in one step, so an interrupted
    # install is never mistaken for a finished venv.
    partial=$(mktemp -d "$cache/partial.XXXXXX")
    rmdir "$partial"
    python3 -m venv "$partial"
    "$partial/bin/python" -m pip install --quiet --disable-pip-version-check \
        "floe-core==$FLOE_CORE_VERSION" "floe-telemetry-jaeger==$FLOE_JAEGER_VERSION" ||
        {
            rm -rf "$partial"
            die "pip install failed"
        }
    mv -T "$partial" "$venv"
fi
python=$venv/bin/python
python_host=$benches/upstream_jaeger.py
# floe-telemetry's own cache (the section index of large plugin
# directories) goes with the other temporary files, not into the user's.
export XDG_CACHE_HOME=$work/cache
mkdir -p "$XDG_CACHE_HOME"

# A command line for hyperfine -N, which splits it like a POSIX shell.
cmd() { printf '%q ' "$@"; }

# --- check that both sides do the work before timing them ------------------
say "sanity: both hosts produce jaeger's configuration"
"$python" "$python_host" --show >"$work/python.out" 2>"$work/python.err" ||
    die "the Python host failed: $(tail -n 5 "$work/python.err")"
tail -n 1 "$work/python.out" | python3 -c '
import json, sys
result = json.load(sys.stdin)
endpoint = result["exporter"]["endpoint"]
assert "jaeger" in endpoint, endpoint
assert result["helm"], "empty Helm values"
print("python host:    endpoint", endpoint, "| helm keys", sorted(result["helm"]))
'
"$bin" exporter-config jaeger >"$work/ours.out" 2>"$work/ours.err" ||
    die "floe-telemetry exporter-config jaeger failed: $(cat "$work/ours.err")"
grep -q "endpoint: .*jaeger" "$work/ours.out" || die "exporter-config jaeger printed no jaeger endpoint: $(cat "$work/ours.out")"
echo "floe-telemetry: $(wc -l <"$work/ours.out") lines of exporter configuration, e.g. $(grep -m1 endpoint "$work/ours.out" | sed 's/^ *//')"
plugin_count=$("$bin" list -o json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["plugins"]))')
echo "bundled plugins: $plugin_count"

# Reads a hyperfine JSON export: `median NAME` prints that command's median
# in seconds.
median() { # json, command name
    python3 -c '
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
print(results[sys.argv[2]]["median"])' "$1" "$2"
}
# `cpu JSON NAME`: that command's mean user + system time in seconds, the
# figure that a busy machine disturbs least (wall time includes waiting for
# a core).
cpu() {
    python3 -c '
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
print(results[sys.argv[2]]["user"] + results[sys.argv[2]]["system"])' "$1" "$2"
}
ms() { python3 -c 'import sys; print(f"{float(sys.argv[1]) * 1000:.2f}")' "$1"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.1f}")' "$1" "$2"; }
minus_ms() { python3 -c 'import sys; print(f"{(float(sys.argv[1]) - float(sys.argv[2])) * 1000:+.2f}")' "$1" "$2"; }
per_ms() { python3 -c 'import sys; print(f"{(float(sys.argv[1]) - float(sys.argv[2])) * 1000 / int(sys.argv[3]):+.2f}")' "$1" "$2" "$3"; }
# `pair JSON A B`: "A vs B ms: A/B x" for the medians, then the same for CPU time.
pair() {
    local a b ca cb
    a=$(median "$1" "$2")
    b=$(median "$1" "$3")
    ca=$(cpu "$1" "$2")
    cb=$(cpu "$1" "$3")
    echo "wall $(ms "$a") vs $(ms "$b") ms: $(ratio "$a" "$b")x; CPU $(ms "$ca") vs $(ms "$cb") ms: $(ratio "$ca" "$cb")x"
}

# Runs a command once; on failure records why in $work/$1.fail and returns 1,
# so a measurement of a command that does not work is reported, not timed.
works() { # tag, command words...
    local tag=$1
    shift
    local start status=0
    start=$(date +%s%N)
    "$@" >/dev/null 2>"$work/$tag.err" || status=$?
    local took=$((($(date +%s%N) - start) / 1000000))
    if [ "$status" = 0 ]; then
        echo "$took ms for one trial run"
        return 0
    fi
    {
        echo "exit $status after $took ms"
        sort "$work/$tag.err" | uniq -c | sort -rn | head -n 3
    } >"$work/$tag.fail"
    cat "$work/$tag.fail"
    return 1
}

hf() { # json name, runs, then hyperfine's -n/command arguments
    local json=$work/$1.json runs=$2
    shift 2
    hyperfine -N --style basic --warmup "$WARMUP" --runs "$runs" --export-json "$json" "$@"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. against the Python host -----------------------------------------------
say "1. exporter-config jaeger against the Python host ($PYTHON_RUNS runs each)"
hf vs_python "$PYTHON_RUNS" \
    -n ours "$(cmd "$bin" exporter-config jaeger)" \
    -n python "$(cmd "$python" "$python_host")"
vs_python=$(pair "$work/vs_python.json" python ours)
echo "Python host vs floe-telemetry: $vs_python"

# --- 1b. with a configuration file ----------------------------------------------
# A deployment gives its backend settings in a file; they are validated
# against the backend's schema before the call.
say "1b. exporter-config jaeger with a configuration file ($RUNS runs each)"
cat >"$work/telemetry.yaml" <<'YAML'
backends:
  - backend: jaeger
    config:
      endpoint: jaeger-collector.observability:4317
      protocol: grpc
      chart: v2
YAML
"$bin" -c "$work/telemetry.yaml" exporter-config jaeger | grep -q "jaeger-collector.observability:4317" ||
    die "exporter-config jaeger did not take the endpoint from $work/telemetry.yaml"
hf configured "$RUNS" \
    -n defaults "$(cmd "$bin" exporter-config jaeger)" \
    -n configured "$(cmd "$bin" -c "$work/telemetry.yaml" exporter-config jaeger)"
configured="$(pair "$work/configured.json" configured defaults); difference: wall $(minus_ms "$(median "$work/configured.json" configured)" "$(median "$work/configured.json" defaults)") ms"
echo "with a configuration file vs without: $configured"

# --- 2. peak memory ------------------------------------------------------------
say "2. peak memory of exporter-config jaeger (max RSS of $RSS_RUNS runs)"
# GNU time reports the largest RSS of the process and of the children it
# waited for (each on its own, not their sum): the host or one plugin process.
peak_rss() { # command words...
    local peak=0 kib
    for _ in $(seq "$RSS_RUNS"); do
        /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
        kib=$(tail -n 1 "$work/rss")
        [ "$kib" -gt "$peak" ] && peak=$kib
    done
    python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1024:.1f}")' "$peak"
}
rss_isolated=$(peak_rss "$bin" exporter-config jaeger)
rss_in_process=$(peak_rss "$bin" --in-process exporter-config jaeger)
echo "isolated (default): $rss_isolated MiB; --in-process: $rss_in_process MiB"

# --- 3. scale: 1000 more plugin files ------------------------------------------
say "3. exporter-config jaeger with $EXTRA_PLUGINS more plugin files"
python3 "$benches/relabel_plugins.py" "$jaeger_so" jaeger "$work/distinct" "$EXTRA_PLUGINS"
mkdir "$work/copies"
for i in $(seq -w 1 "$EXTRA_PLUGINS"); do
    cp "$jaeger_so" "$work/copies/libfloe_backend_copy$i.so"
done
listed=$("$bin" --plugin-dir "$work/distinct" list -o json |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["plugins"]))')
echo "list with the relabelled files: $listed plugins ($EXTRA_PLUGINS + $plugin_count expected)"
[ "$listed" -eq $((EXTRA_PLUGINS + plugin_count)) ] || die "the relabelled files are not listed as distinct plugins"

# The bundled directory first, the extra files in a second one: plain copies
# are then duplicates of the bundled jaeger, as they would be for a user.
# A command stops searching once it has found what it needs, so the third
# case puts the extra files first, where every one of them must be read
# before jaeger is found: the worst case.
bundled_only=(--no-default-plugin-dirs --plugin-dir "$release")
scale_result() { # tag, directory[, "first"]; prints the ratio or why there is none
    local tag=$1 dir=$2 where=${3:-after}
    local with_extra=("$bin" "${bundled_only[@]}" --plugin-dir "$dir" exporter-config jaeger)
    if [ "$where" = first ]; then
        with_extra=("$bin" --no-default-plugin-dirs --plugin-dir "$dir" --plugin-dir "$release" exporter-config jaeger)
    fi
    echo "trial run, $tag:" >&2
    if ! works "$tag" "${with_extra[@]}" >&2; then
        echo "fails: $(head -n 1 "$work/$tag.fail"), $(sed -n '2{s/^ *//;p}' "$work/$tag.fail")"
        return
    fi
    # Fewer warm-up runs: each may take seconds, and the files stay cached.
    WARMUP=$((WARMUP < 2 ? WARMUP : 2)) hf "$tag" "$SCALE_RUNS" \
        -n bundled "$(cmd "$bin" "${bundled_only[@]}" exporter-config jaeger)" \
        -n "$tag" "$(cmd "${with_extra[@]}")" >&2
    pair "$work/$tag.json" "$tag" bundled
}
scale_distinct=$(scale_result distinct "$work/distinct")
echo "distinct names: $scale_distinct"
scale_copies=$(scale_result copies "$work/copies")
echo "plain copies:   $scale_copies"
scale_first=$(scale_result distinct_first "$work/distinct" first)
echo "distinct names, searched first: $scale_first"
# The warm-up runs above wrote the section index of that directory; without
# it (the first run, or no cache directory) every file is read.
scale_first_cold=$(XDG_CACHE_HOME=/nonexistent/floe-bench-cache scale_result distinct_first_cold "$work/distinct" first)
echo "the same without the section index: $scale_first_cold"

# --- 4. what isolation costs -----------------------------------------------------
say "4. isolation: isolated against --in-process ($RUNS runs each)"
hf isolation "$RUNS" \
    -n in-process "$(cmd "$bin" --in-process exporter-config jaeger)" \
    -n isolated "$(cmd "$bin" exporter-config jaeger)"
iso_in=$(median "$work/isolation.json" in-process)
iso_out=$(median "$work/isolation.json" isolated)
isolation="$(pair "$work/isolation.json" isolated in-process); difference: wall $(minus_ms "$iso_out" "$iso_in") ms, CPU $(minus_ms "$(cpu "$work/isolation.json" isolated)" "$(cpu "$work/isolation.json" in-process)") ms"
echo "exporter-config jaeger, isolated vs in process: $isolation"

# check loads every plugin. Whether it honours --in-process depends on the
# version (it has isolated regardless), so it is also measured against list,
# which loads none: that difference is the whole cost of loading and
# checking a plugin in a process of its own.
echo "check, trial runs:"
works check_isolated "$bin" check || die "check failed: $(cat "$work/check_isolated.fail")"
if works check_in_process "$bin" --in-process check; then
    hf check "$RUNS" \
        -n in-process "$(cmd "$bin" --in-process check)" \
        -n isolated "$(cmd "$bin" check)"
    check_result="$(pair "$work/check.json" isolated in-process); per plugin: wall $(per_ms "$(median "$work/check.json" isolated)" "$(median "$work/check.json" in-process)" "$plugin_count") ms, CPU $(per_ms "$(cpu "$work/check.json" isolated)" "$(cpu "$work/check.json" in-process)" "$plugin_count") ms"
else
    check_result="--in-process check refused: $(sed -n '2{s/^ *[0-9]* //;p}' "$work/check_in_process.fail")"
fi
echo "check, isolated vs --in-process: $check_result"
hf check_vs_list "$RUNS" -n list "$(cmd "$bin" list)" -n check "$(cmd "$bin" check)"
check_vs_list="$(pair "$work/check_vs_list.json" check list); per plugin: wall $(per_ms "$(median "$work/check_vs_list.json" check)" "$(median "$work/check_vs_list.json" list)" "$plugin_count") ms, CPU $(per_ms "$(cpu "$work/check_vs_list.json" check)" "$(cpu "$work/check_vs_list.json" list)" "$plugin_count") ms"
echo "check vs list: $check_vs_list"

# --- summary ---------------------------------------------------------------------
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine"
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
cores=$(nproc)
kernel=$(uname -sr)
commit=$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- . 2>/dev/null || echo "+changes")
if python3 -c 'import sys; sys.exit(float(sys.argv[1]) <= int(sys.argv[2]))' "${load_after%% *}" "$cores"; then
    echo "warning: the load average exceeded the $cores cores: wall times include waiting for a core; CPU times are the steadier figures" >&2
fi
echo "$cpu_model, $cores cores, $kernel; load average $load_before before, $load_after after; commit $commit; $(hyperfine --version)"

say "summary (Markdown)"
cat <<EOF
Machine: $cpu_model, $cores cores, $kernel, load average $load_before at the start
and $load_after at the end; floe-telemetry $commit, release build.
Command: \`bash host/benches/vs_python.sh\` (hyperfine -N, $WARMUP warm-up runs).
Wall: median; CPU: mean user + system time of the process and its children.

| what | runs | result |
|---|---|---|
| Python host (floe-core $FLOE_CORE_VERSION) vs \`exporter-config jaeger\` (isolated) | $PYTHON_RUNS | $vs_python |
| \`exporter-config jaeger\` with a configuration file setting three of jaeger's settings vs without | $RUNS | $configured |
| peak RSS, \`exporter-config jaeger\`, isolated / \`--in-process\` (max of runs) | $RSS_RUNS | $rss_isolated MiB / $rss_in_process MiB |
| \`exporter-config jaeger\` with $EXTRA_PLUGINS more files (distinct names) vs bundled only | $SCALE_RUNS | $scale_distinct |
| the same with $EXTRA_PLUGINS plain copies of jaeger (duplicates) | $SCALE_RUNS | $scale_copies |
| $EXTRA_PLUGINS more files (distinct names) in a directory searched before the bundled one, all looked at (section index) | $SCALE_RUNS | $scale_first |
| the same without the section index (first run, or no cache directory): all read | $SCALE_RUNS | $scale_first_cold |
| isolation, \`exporter-config jaeger\`: isolated vs \`--in-process\` | $RUNS | $isolation |
| isolation, \`check\` ($plugin_count plugins): isolated vs \`--in-process\` | $RUNS | $check_result |
| \`check\` (loads all $plugin_count) vs \`list\` (loads none) | $RUNS | $check_vs_list |
EOF

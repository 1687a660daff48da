#!/usr/bin/env python3
"""Interleaved whole-process runs of two or more commands, for differences
smaller than a machine's drift.

hyperfine runs each command's runs in one block, so a change in the
machine's state between blocks (page cache, another process, the host of a
virtual machine) lands on one command only. Here every round runs each
command once, in a new random order, and the result is the median of the
per-round differences against the first command, next to each command's
median wall time.

    python3 host/benches/paired.py ROUNDS CMD... [';;' CMD...]...

e.g. what isolation costs one plugin, on an installed copy:

    python3 host/benches/paired.py 400 \\
        /usr/bin/floe-telemetry --in-process exporter-config jaeger ';;' \\
        /usr/bin/floe-telemetry exporter-config jaeger

The first 10 rounds warm up and are not counted. Output goes to
/dev/null; a command that fails stops the measurement.
"""

import random
import statistics
import subprocess
import sys
import time

WARMUP_ROUNDS = 10


def commands(words):
    found = [[]]
    for word in words:
        if word == ";;":
            found.append([])
        else:
            found[-1].append(word)
    if len(found) < 2 or not all(found):
        sys.exit("usage: paired.py ROUNDS CMD... ';;' CMD... (two commands at least)")
    return found


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = commands(sys.argv[2:])
    times = [[] for _ in cmds]
    for round_ in range(WARMUP_ROUNDS + rounds):
        order = list(range(len(cmds)))
        random.shuffle(order)
        for index in order:
            start = time.perf_counter()
            result = subprocess.run(cmds[index], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            took = time.perf_counter() - start
            if result.returncode != 0:
                sys.exit(f"{' '.join(cmds[index])} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
            if round_ >= WARMUP_ROUNDS:
                times[index].append(took * 1000)
    for cmd, runs in zip(cmds, times):
        runs = sorted(runs)
        quartile = len(runs) // 4
        print(f"{statistics.median(runs):8.3f} ms  (p25 {runs[quartile]:.3f}, p75 {runs[-quartile - 1]:.3f})  {' '.join(cmd)}")
    for index in range(1, len(cmds)):
        differences = [b - a for a, b in zip(times[0], times[index])]
        print(f"command {index + 1} - command 1: median of {rounds} paired differences {statistics.median(differences):+.3f} ms")


if __name__ == "__main__":
    main()

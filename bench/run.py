"""`make bench`: every benchmark in turn; each prints one JSON line per figure with its baseline.

Sizes can be lowered for a quick look: `BENCH_QUICK=1 make bench`. Each benchmark starts its own
stack: Apache Kafka (one node, deploy/kafkastack.py) where java and mvn exist, Tansu elsewhere or
with BENCH_KAFKA=tansu; each says which on stderr and in its JSON lines.
"""

from __future__ import annotations

import os
import subprocess
import sys

QUICK = os.environ.get("BENCH_QUICK") == "1"
BENCHES = [
    ["bench.intake"],
    ["bench.producer", "--records", "5000" if QUICK else "20000"],
    ["bench.database", "--operations", "200" if QUICK else "800"],
    ["bench.assignment", "--clues", "2000" if QUICK else "10000"],
    ["bench.notify", *(["--events", "500", "--emails", "100"] if QUICK else [])],
    ["bench.e2e", "--clues", "150" if QUICK else "600"],
    ["bench.commands", "--clues", "20" if QUICK else "40"],
    ["bench.stats", *(["--sizes", "2000,20000"] if QUICK else [])],
]


def main() -> int:
    failed = []
    for argv in BENCHES:
        print(f"# {' '.join(argv)}", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", *argv])
        if proc.returncode != 0:
            failed.append(argv[0])
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

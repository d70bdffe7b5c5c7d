"""Database commands per clue: what each process of the pipeline sends to the database for one
clue, from POST /v1/clues to the reporter's "accepted" notification.

Runs the three services as processes (as `make run` does) with bench/command_hook on their
PYTHONPATH, which counts every command their pymongo clients send. Clues are posted one at a time
(each waits for its "accepted" notification), so the figures are the critical path's, not a
batch's. The baseline, in the same run: the same processes idle for as long, whose commands
(polling rounds, the backstops) are subtracted from the clues' window. Prints one JSON line per
process role and one for the whole pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import DATABASE, ROOT, broker_name, emit
from bench.e2e import Clock, running_pipeline

HOOK = ROOT / "bench" / "command_hook"


def snapshot(folder: Path) -> dict[str, Counter[str]]:
    """The commands counted so far, per process role ("assignment consumer", ...)."""
    time.sleep(1.0)  # every process writes its counts each half second
    roles: dict[str, Counter[str]] = {}
    for path in folder.glob("*.json"):
        found = json.loads(path.read_text())
        argv = found["argv"]
        if not argv or "services" not in Path(argv[0]).parts:
            continue
        role = f"{Path(argv[0]).parent.name} {argv[1] if len(argv) > 1 else ''}".strip()
        roles.setdefault(role, Counter()).update(found["counts"])
    return roles


def window(before: dict[str, Counter[str]], after: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    return {role: after[role] - before.get(role, Counter()) for role in after}


def post_one_by_one(clock: Clock, n: int, timeout: float) -> float:
    """Posts `n` clues, each after the previous one's "accepted" notification; seconds taken."""
    started = time.monotonic()
    for i in range(n):
        clue_id, _ = clock.post(200_000 + i)
        deadline = time.monotonic() + timeout
        while not clock.notifications.find_one({"clue_id": clue_id, "kind": "accepted", "status": "sent"}):
            if time.monotonic() > deadline:
                raise RuntimeError(f"clue {i} did not reach 'accepted' in {timeout} s")
            time.sleep(0.02)
    return time.monotonic() - started


def report(clues: dict[str, Counter[str]], idle: dict[str, Counter[str]], n: int, where: dict) -> None:
    total = 0.0
    for role in sorted(clues):
        per_clue = {k: round((v - idle.get(role, Counter())[k]) / n, 2) for k, v in clues[role].items()}
        per_clue = {k: v for k, v in sorted(per_clue.items(), key=lambda kv: -kv[1]) if v >= 0.05}
        value = round(sum(per_clue.values()), 1)
        total += value
        emit(bench="db_commands_per_clue", process=role, value=value, unit="commands/clue",
             baseline=round(sum(idle.get(role, Counter()).values()) / n, 1), baseline_is="idle, same window",
             by_command=per_clue, clues=n, **where)
    emit(bench="db_commands_per_clue", process="pipeline", value=round(total, 1), unit="commands/clue",
         clues=n, **where)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clues", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    counts = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    os.environ["BENCH_COMMANDS_DIR"] = str(counts)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HOOK), str(ROOT), os.environ.get("PYTHONPATH", "")])
    with running_pipeline("bench-commands-work-") as (_env, stack, _pipeline, clock):
        post_one_by_one(clock, 3, args.timeout)  # warm up every process and its indexes
        start = snapshot(counts)
        took = post_one_by_one(clock, args.clues, args.timeout)
        posted = snapshot(counts)
        time.sleep(took)
        idle = window(posted, snapshot(counts))
        report(window(start, posted), idle, args.clues, {"broker": broker_name(stack), "database": DATABASE})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: what the database spends on each kind of write intake makes, against a plain insert.

`python -m bench.database` starts the local stack (or uses MONGODB_URI with DATABASE_PID), and
times, from one client, the database process's CPU per operation:

- the baseline: the minimal app's insert (the validated body, no index but `_id`);
- intake's insert: a clue as `post_clue` builds it (sealed reporter, receipt digests; it holds
  its event), into the clues collection with its real indexes;
- the relay's mark-sent (`OutboxRelay._clear`) for batches of 1, 8 and 50 outbox documents of a
  clue's size (the write a follow-up or a case pays after publishing, and a clue no longer does);
- a read of one document by `_id`, the cheapest command there is.

On the local stand-in (a Python server) most of an operation's price is the command itself, so
these figures say what each extra write of a request costs there. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import os
import sys
from base64 import b64decode

from bench.common import DATABASE, emit, stack_env, stack_pids

DB = "bench_database"


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure(pid: int, operations: int, run) -> float:
    """The database's CPU milliseconds per operation over `operations` calls of `run(i)`."""
    before = cpu_seconds(pid)
    for i in range(operations):
        run(i)
    return (cpu_seconds(pid) - before) * 1000 / operations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=800,
                        help="calls per figure (default 800; the CPU clock ticks every 10 ms: "
                             "fewer give rough figures)")
    args = parser.parse_args()
    env, stack = stack_env()
    try:
        pid = stack_pids(stack)["database"] or int(os.environ.get("DATABASE_PID", "0"))
        if not pid:
            print("bench.database: set DATABASE_PID to the database's process id when MONGODB_URI "
                  "points at a server this benchmark did not start", file=sys.stderr)
            return 2
        return run(env["MONGODB_URI"], pid, args.operations)
    finally:
        if stack:
            stack.stop()


def mark_sent(pid: int, marked, pending: list[dict], operations: int) -> dict[str, float]:
    """The relay's mark-sent per clue, in batches of 1, 8 and 50 (about half `operations` each)."""
    from shared.outbox import OutboxRelay

    relay = OutboxRelay(marked, publisher=None)  # only its mark-sent is timed here
    figures, taken = {}, 0
    for size in (1, 8, 50):
        count = max(1, operations // 2 // size)
        batches = [pending[taken + i * size: taken + (i + 1) * size] for i in range(count)]
        taken += count * size
        figures[f"mark_sent_per_clue_in_batches_of_{size}"] = measure(
            pid, count, lambda i, batches=batches: relay._clear(batches[i])) / size
    return figures


def run(uri: str, pid: int, operations: int) -> int:
    from services.intake import handlers, receipts
    from services.intake.clue_store import as_stored
    from services.intake.documents import Clue
    from services.intake.model import received_clue
    from services.intake.schemas import ClueSchema
    from shared import mongo
    from shared.outbox import entry
    from shared.sealing import ReporterVault, generate_keypair, generate_secret_key
    from tests.unit.intake.clues import clue

    mongo.connect(uri, DB)
    db = mongo.me.get_db()
    for name in ("baseline_clues", "clues", "outbox_docs"):
        db.drop_collection(name)
    Clue.ensure_indexes()
    clues, plain, marked = Clue._get_collection(), db["baseline_clues"], db["outbox_docs"]
    marked.create_index("outbox_pending")
    public, _private = generate_keypair()
    keys = handlers.Keys(b64decode(generate_secret_key()), ReporterVault(b64decode(generate_secret_key())),
                         b64decode(public))
    data = ClueSchema().load(clue())
    plain_body = {**data, "occurred_on": data["occurred_on"].isoformat()}

    def intake_clue() -> dict:
        return as_stored(received_clue(data, "foshan/chancheng/shiwan/contact", keys,
                                       receipts.new_receipt(), None, None, mongo.utcnow()))

    def outbox_doc() -> dict:
        doc = intake_clue()
        doc.update(outbox=[entry(handlers.received_event(doc))], outbox_pending=True, outbox_version=0)
        return doc

    def insert_plain(_i: int) -> None:
        plain.insert_one({"_id": mongo.new_id(), **plain_body, "received_at": mongo.utcnow()})

    def insert_intake(_i: int) -> None:
        clues.insert_one(intake_clue())

    measure(pid, 50, insert_plain)  # warm up: connection, files, caches
    measure(pid, 50, insert_intake)
    rounds = 4  # the two inserts take turns: the machine's speed drifts
    figures = {"baseline_insert": 0.0, "intake_insert": 0.0}
    for _ in range(rounds):
        figures["baseline_insert"] += measure(pid, operations // rounds, insert_plain) / rounds
        figures["intake_insert"] += measure(pid, operations // rounds, insert_intake) / rounds
    marked.insert_many([outbox_doc() for _ in range(2 * operations)])  # pending, for the mark-sent
    pending = list(marked.find({"outbox_pending": True}, {"outbox_version": 1}))
    figures.update(mark_sent(pid, marked, pending, operations))
    ids = [doc["_id"] for doc in pending[:operations]]
    figures["read_by_id"] = measure(pid, len(ids), lambda i: marked.find_one({"_id": ids[i]}))
    base = figures["baseline_insert"]
    for name, value in figures.items():
        emit(bench="database_cpu", operation=name, value=round(value, 3), unit="ms/operation",
             baseline=round(base, 3), ratio=round(value / base, 2) if base else None, database=DATABASE,
             operations=operations)
    return 0


if __name__ == "__main__":
    sys.exit(main())

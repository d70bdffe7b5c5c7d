"""Loaded by every Python process started with this folder on PYTHONPATH (bench/commands.py):
counts the database commands the process sends, by command and collection, and writes the
counts to $BENCH_COMMANDS_DIR/<pid>.json every half second. Nothing else changes."""

import json
import os
import sys
import threading
import time
from collections import Counter

OUT = os.environ.get("BENCH_COMMANDS_DIR")

if OUT:
    from pymongo import monitoring

    _counts: Counter[str] = Counter()
    _lock = threading.Lock()

    class _Counter(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            target = event.command.get(event.command_name)
            key = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
            with _lock:
                _counts[key] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    def _write() -> None:
        with _lock:
            snapshot = dict(_counts)
        path = os.path.join(OUT, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"argv": sys.argv, "counts": snapshot}, f)
        os.replace(path + ".tmp", path)

    def _loop() -> None:
        while True:
            time.sleep(0.5)
            try:
                _write()
            except OSError:
                pass

    def _start() -> None:
        threading.Thread(target=_loop, name="bench-command-count", daemon=True).start()

    def _after_fork() -> None:  # a forked worker (gunicorn's) counts its own commands
        global _lock
        _lock = threading.Lock()
        _counts.clear()
        _start()

    monitoring.register(_Counter())
    os.register_at_fork(after_in_child=_after_fork)
    _start()

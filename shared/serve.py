"""Serve a Flask app factory with gunicorn (a production WSGI server), in the foreground."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

from shared.metrics import mark_worker_dead, multiprocess_dir, use_multiprocess_dir


class _Gunicorn(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def serve(factory: Callable[[], Flask], host: str, port: int, workers: int = 2,
          threads: int = 4, post_fork: Callable | None = None, *, service: str = "app") -> None:
    """Run `factory()` in `workers` forked processes with `threads` threads each until SIGTERM.

    The app is created after the fork (no `preload`), so each worker opens its own database and
    broker connections, as kafka-python and pymongo require. The workers keep their metrics in
    `multiprocess_dir(service, port)` (emptied at start, removed at exit), so /metrics sums them.
    """
    metrics = multiprocess_dir(service, port)
    use_multiprocess_dir(metrics)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 10,
        "timeout": 60,
        "keepalive": 5,
        "child_exit": lambda _arbiter, worker: mark_worker_dead(worker.pid),
    }
    if post_fork:
        options["post_fork"] = post_fork
    master = os.getpid()
    try:
        _Gunicorn(factory, options).run()
    finally:
        # A worker leaves gunicorn's run() through here too (SystemExit); only the master cleans.
        if os.getpid() == master:
            shutil.rmtree(metrics, ignore_errors=True)

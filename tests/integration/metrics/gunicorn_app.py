"""`python -m tests.integration.metrics.gunicorn_app PORT`: a service's base app (with its /metrics)
under `shared.serve` on two gunicorn workers, plus /pid naming the worker that answers."""

from __future__ import annotations

import os
import sys

from flask import jsonify

from shared.serve import serve
from shared.settings import CommonSettings
from shared.web import create_base_app


def create_app():
    settings = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1", mongodb_uri="mongodb://127.0.0.1:1/")
    app = create_base_app("demo", settings)

    @app.get("/pid")
    def pid():
        return jsonify(pid=os.getpid())

    return app


if __name__ == "__main__":
    serve(create_app, "127.0.0.1", int(sys.argv[1]), workers=2, threads=2, service="demo")

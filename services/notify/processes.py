"""Notify's processes: `campaign serve notify web|consumer|deliverer` (or `python -m services.notify ...`).

Each reads its settings from the environment, checks that MongoDB and Kafka answer, and runs in
the foreground until SIGTERM.
"""

from __future__ import annotations

from services.notify.settings import NotifySettings
from shared import mongo
from shared.entry import check_dependencies
from shared.logs import configure_logging


def _start_worker(settings: NotifySettings) -> None:
    from shared.kafka import ensure_topics
    from shared.metrics import metrics_port, serve_worker_metrics

    configure_logging("notify", settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)
    serve_worker_metrics(metrics_port())
    mongo.connect(settings.common.mongodb_uri, settings.db)


def web() -> None:
    """Serve the admin notification list and the metrics under gunicorn."""
    from services.notify.app import create_app
    from shared.serve import serve

    settings = NotifySettings.from_env()
    configure_logging("notify", settings.common.log_level)
    check_dependencies(settings.common)
    serve(lambda: create_app(settings), settings.common.host, settings.port, settings.web_workers,
          service="notify")


def consumer() -> None:
    """Consume clue and case events into notifications until SIGTERM, delivering to the receipt
    inbox what each batch queued at once (prompt.py); the deliverer process does the rest."""
    from services.notify.consumer import build_consumer
    from services.notify.prompt import PromptDelivery
    from shared.consumer import stop_on_signals
    from shared.kafka import EventProducer

    settings = NotifySettings.from_env()
    _start_worker(settings)
    stop = stop_on_signals()
    prompt = PromptDelivery(settings)
    prompt.start(stop)
    producer = EventProducer(settings.common)  # dead letters
    try:
        build_consumer(settings.common, producer, on_handled=prompt.wake).run(stop)
    finally:
        stop.set()
        prompt.stop()
        producer.close()


def deliverer() -> None:
    """Deliver notifications, with retries and the 30-day note, until SIGTERM."""
    from services.notify.delivery import Deliverer
    from shared.consumer import stop_on_signals
    from shared.kafka import EventProducer

    settings = NotifySettings.from_env()
    _start_worker(settings)
    producer = EventProducer(settings.common)  # clue-notified: what became of each notification
    try:
        Deliverer(settings, publisher=producer).run(stop_on_signals())
    finally:
        producer.close()


PROCESSES = {"web": web, "consumer": consumer, "deliverer": deliverer}

"""The notify web app: the admin notification list, plus health, metrics and OpenAPI."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.notify import api
from services.notify.consumer import GROUP_ID
from services.notify.handlers import HANDLERS
from services.notify.settings import NotifySettings
from shared import mongo
from shared.metrics import watch_consumer_lag
from shared.web import create_base_app, new_spec


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the notify API."""
    spec = new_spec("campaign notify")
    spec.components.schema("NotificationList", schema=api.NotificationList)
    with app.test_request_context():
        from apispec.yaml_utils import load_operations_from_docstring

        operations = load_operations_from_docstring(api.list_notifications.__doc__ or "")
        spec.path(path="/v1/notifications", operations=operations)
    return spec.to_dict()


def create_app(settings: NotifySettings | None = None) -> Flask:
    """Connect to notify's database and serve its routes."""
    settings = settings or NotifySettings.from_env()
    mongo.connect(settings.common.mongodb_uri, settings.db)
    holder: dict[str, Flask] = {}
    app = create_base_app("notify", settings.common, spec=lambda: build_spec(holder["app"]))
    holder["app"] = app
    app.register_blueprint(api.bp)
    app.config["NOTIFY_SETTINGS"] = settings
    watch_consumer_lag(settings.common, GROUP_ID, tuple(HANDLERS))
    return app

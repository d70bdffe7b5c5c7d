"""The notify web app: the admin notification list, plus health, metrics and OpenAPI (flask-smorest's,
from the schemas the route parses and dumps with)."""

from __future__ import annotations

from flask import Flask

from services.notify import api
from services.notify.consumer import GROUP_ID
from services.notify.handlers import HANDLERS
from services.notify.settings import NotifySettings
from shared import mongo
from shared.metrics import watch_consumer_lag
from shared.web import api_for, create_base_app


def create_app(settings: NotifySettings | None = None) -> Flask:
    """Connect to notify's database and serve its routes."""
    settings = settings or NotifySettings.from_env()
    mongo.connect(settings.common.mongodb_uri, settings.db)
    app = create_base_app("notify", settings.common)
    api_for(app, "campaign notify").register_blueprint(api.bp)
    app.config["NOTIFY_SETTINGS"] = settings
    watch_consumer_lag(settings.common, GROUP_ID, tuple(HANDLERS))
    return app

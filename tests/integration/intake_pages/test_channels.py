"""The reporter page offers only the channels notify is configured to deliver (INTAKE_REPORTER_CHANNELS)."""

import dataclasses

import pytest

from services.intake.app import create_app
from services.intake.documents import Clue
from services.intake.settings import IntakeSettings
from shared.settings import Env, SettingsError
from tests.integration.intake_pages.forms import NAMED_EMAIL, NAMED_SMS, submit
from tests.integration.intake_pages.html import Page

pytestmark = pytest.mark.stack


@pytest.fixture
def no_sms_app(intake_settings):
    app = create_app(dataclasses.replace(intake_settings, reporter_channels=("inbox", "email", "webhook")))
    yield app
    app.extensions["intake_relay_stop"].set()
    app.extensions["intake"].outbox.stop()
    for thread in app.extensions["intake_relay"]:
        thread.join(timeout=10)


def test_without_an_sms_gateway_the_page_offers_no_sms(no_sms_app, client):
    offered = [o.attrs["value"] for o in Page(client.get("/report").get_data(as_text=True)).all("option")
               if o.attrs.get("value") in ("email", "sms")]
    assert offered == ["email", "sms"]  # the default: every channel
    limited = no_sms_app.test_client()
    page = Page(limited.get("/report").get_data(as_text=True))
    channels = [o.attrs["value"] for o in page.all("option") if o.attrs.get("value") in ("email", "sms")]
    assert channels == ["email"]
    refused = submit(limited, NAMED_SMS)  # a hand-made post still asking for SMS
    assert refused.status_code == 422 and "此反馈方式暂不可用" in refused.get_data(as_text=True)
    assert Clue.objects.count() == 0
    assert submit(limited, NAMED_EMAIL).status_code == 200 and Clue.objects.count() == 1


BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017",
        "INTAKE_RECEIPT_KEY": "A" * 43 + "=", "INTAKE_REPORTER_KEY": "B" * 43 + "=",
        "NOTIFY_PUBLIC_KEY": "C" * 43 + "="}


@pytest.mark.parametrize("raw,expected", [("inbox,email", ("inbox", "email")), ("sms,carrier-pigeon", None),
                                          (",", None)])
def test_the_channel_setting(raw, expected):
    env = Env({**BASE, "INTAKE_REPORTER_CHANNELS": raw})
    if expected is None:
        with pytest.raises(SettingsError, match="^INTAKE_REPORTER_CHANNELS:"):
            IntakeSettings.from_env(env)
    else:
        assert IntakeSettings.from_env(env).reporter_channels == expected

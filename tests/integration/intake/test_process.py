"""Intake as real processes: Mongo going away, and `python -m services.intake web` over the network."""

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import mongoengine as me
import pytest
import requests

from deploy.localstack import LocalStack, free_port
from services.intake.app import create_app
from services.intake.documents import Clue, FollowUp
from services.intake.settings import IntakeSettings
from shared import events
from shared.auth import issue_key
from shared.fakes import FakeBroker
from tests.integration.intake.conftest import SHIWAN_UNIT
from tests.integration.shared.helpers import read_topic, unique, wait_for
from tests.unit.intake.clues import IDENTITY, clue

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[3]


def test_mongo_down_is_503_with_retry_after_and_nothing_half_written(tmp_path, settings, notify_keypair):
    me.disconnect()
    stack = LocalStack(tmp_path / "stack")
    stack.start_mongo()
    try:
        common = settings.__class__(**{**settings.__dict__, "mongodb_uri": stack.mongodb_uri})
        intake = IntakeSettings(common=common, receipt_key=os.urandom(32), reporter_key=os.urandom(32),
                                notify_public_key=base64.b64decode(notify_keypair[0]), db="intake_down",
                                mongo_timeout_ms=500)
        app = create_app(intake, publisher=FakeBroker(), start_relay=False)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {issue_key('frontline', SHIWAN_UNIT)}"}
        first = client.post("/v1/clues", json=clue(), headers=headers)
        assert first.status_code == 202
        stack.stop_mongo()
        down = client.post("/v1/clues", json=clue(summary="while down"), headers=headers)
        assert down.status_code == 503 and down.mimetype == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        lookup = client.post("/v1/receipts/messages", json={**first.json["receipt"], "message": "m"})
        assert lookup.status_code == 503 and "Retry-After" in lookup.headers
        for secret in IDENTITY:
            assert secret not in down.get_data(as_text=True)
        stack.start_mongo()
        wait_for(lambda: client.get("/readyz").status_code == 200 or None, timeout=30, message="ready")
        assert Clue.objects.count() == 1 and FollowUp.objects.count() == 0
        assert client.post("/v1/clues", json=clue(summary="after"), headers=headers).status_code == 202
    finally:
        stack.stop()
        me.disconnect()


def test_web_process_serves_over_the_network_and_logs_no_identity(settings, mongo_db, notify_keypair):
    prefix = unique("web") + "."
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "MONGODB_URI": settings.mongodb_uri, "KAFKA_TOPIC_PREFIX": prefix,
           "KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
           "INTAKE_RECEIPT_KEY": base64.b64encode(os.urandom(32)).decode(),
           "INTAKE_REPORTER_KEY": base64.b64encode(os.urandom(32)).decode(),
           "NOTIFY_PUBLIC_KEY": notify_keypair[0], "INTAKE_DB": mongo_db, "INTAKE_PORT": str(port),
           "WEB_WORKERS": "1", "LOG_LEVEL": "DEBUG"}
    token = issue_key("frontline", SHIWAN_UNIT)
    proc = subprocess.Popen([sys.executable, "-m", "services.intake", "web"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, timeout=60, message="web answers")
        headers = {"Authorization": f"Bearer {token}"}
        resp = requests.post(f"{base}/v1/clues", json=clue(), headers=headers, timeout=10)
        assert resp.status_code == 202
        clue_id = resp.json()["clue_id"]
        bad = requests.post(f"{base}/v1/clues", json=clue(colour=IDENTITY[0]), headers=headers, timeout=10)
        assert bad.status_code == 422
        found = requests.post(f"{base}/v1/receipts/lookup", json=resp.json()["receipt"], timeout=10)
        assert found.status_code == 200 and found.json()["status"] == "received"
        records = read_topic(settings.kafka_bootstrap_servers, prefix + events.CLUE_RECEIVED, expect=1)
        assert [events.decode(r.value).subject for r in records] == [clue_id]
        published = records[0].value.decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    for secret in IDENTITY:
        assert secret not in err.decode() + out.decode()
        assert secret not in published

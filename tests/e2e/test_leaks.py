"""After clues from real-name reporters went through every service: their identity is nowhere but
intake's and notify's encrypted fields — not in a log line, a record on any topic, or any database."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymongo
import pytest
from bson import json_util

from shared import events
from tests.e2e.test_pipeline import close, find_case, post, wait_status
from tests.integration.shared.helpers import read_topic, wait_for

pytestmark = pytest.mark.e2e


class Hook(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's hook name
        Hook.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_reporter_identity_never_leaks(e2e, stack, webhook_receiver):
    tag = uuid.uuid4().hex[:8]
    reporters = [
        {"anonymous": False, "name": f"泄露检查甲{tag}", "email": f"leak-{tag}@example.org",
         "phone": f"+86139{tag[:4].encode().hex()[:8]}", "channel": "email"},
        {"anonymous": False, "name": f"泄露检查乙{tag}", "phone": "+8613900001111", "channel": "sms"},
        {"anonymous": False, "name": f"泄露检查丙{tag}", "channel": "webhook",
         "webhook_url": f"{webhook_receiver}/hook-{tag}"},
    ]
    receipts = []
    for i, reporter in enumerate(reporters):
        # A distinct subject for each clue, so none is linked to another as a repeat.
        body = {"source": "public_report", "category": "tip_off", "summary": "检查前通风报信",
                "jurisdiction": "foshan/nanhai/guicheng",
                "subject": {"name": f"某{tag}{i}", "employer": "foshan/nanhai/traffic", "rank": "staff"},
                "reporter": reporter}
        receipts.append(post(e2e, body, frontline="foshan/nanhai/guicheng/contact"))
    for posted in receipts:
        wait_status(e2e, posted["receipt"], "accepted")
        case = find_case(e2e, posted["clue_id"])
        close(e2e, case, "已核实处理。")
        wait_status(e2e, posted["receipt"], "closed")
    wait_for(lambda: Hook.received, timeout=60,
             message="webhook delivery")

    secrets = {r[k] for r in reporters for k in ("name", "email", "phone", "webhook_url") if k in r}

    logs = e2e.logs()
    assert logs, "the services wrote no logs at all"
    prefix = e2e.pipeline.env["KAFKA_TOPIC_PREFIX"]
    topics = [prefix + t for topic in events.TOPICS for t in (topic, events.dlq_topic(topic))]
    records = b"".join(r.value or b"" for t in topics
                       for r in read_topic(stack.kafka_bootstrap, t, timeout=3))
    assert f"{receipts[0]['clue_id']}".encode() in records
    client = pymongo.MongoClient(stack.mongodb_uri)
    try:
        dumps = {}
        for service, name in e2e.pipeline.databases.items():
            db = client[name]
            dumps[service] = "\n".join(json_util.dumps(doc, ensure_ascii=False)
                                       for coll in db.list_collection_names()
                                       for doc in db[coll].find())
    finally:
        client.close()
    assert receipts[0]["clue_id"] in dumps["assignment"]
    for secret in secrets:
        assert secret not in logs, f"{secret!r} in a log line"
        assert secret.encode() not in records, f"{secret!r} in a topic record"
        for service, text in dumps.items():
            assert secret not in text, f"{secret!r} in the {service} database"
    assert not any(json.dumps(s, ensure_ascii=False).strip('"') in logs for s in secrets)

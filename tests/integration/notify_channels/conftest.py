"""Real local servers on 127.0.0.1, on ports the OS picks, stopped in teardown."""

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from services.notify.channels import recipient_secret, verify

WEBHOOK_SECRET = b"integration-secret"
SMS_API_KEY = "sms-key-123"


class OsPortController(Controller):
    """An aiosmtpd Controller bound to port 0; `port` is the one the OS chose."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class RecordingHandler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.content, policy=default_policy),
            }
        )
        return "250 OK"


class RefusingHandler:
    """Answers `code` at the RCPT or DATA stage, echoing the address as real servers do."""

    def __init__(self, code, stage):
        self.code = code
        self.stage = stage

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stage == "rcpt":
            return f"{self.code} 5.1.1 <{address}>: refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return f"{self.code} refused for <{envelope.rcpt_tos[0]}>"


@pytest.fixture
def start_smtp():
    controllers = []

    def start(handler):
        controller = OsPortController(handler, hostname="127.0.0.1", port=0)
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_recorder(start_smtp):
    handler = RecordingHandler()
    return start_smtp(handler), handler


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@dataclass
class Receiver:
    base_url: str
    requests: list = field(default_factory=list)


class _ReceiverHandler(BaseHTTPRequestHandler):
    """POST /status/<code> records the request and answers <code>."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.receiver.requests.append(
            {
                "path": self.path,
                "headers": dict(self.headers),
                "body": body,
                "json": json.loads(body) if body else None,
                "signature_ok": verify(recipient_secret(WEBHOOK_SECRET, self.server.receiver.base_url
                                                        + self.path), body, self.headers.get("X-Signature")),
                "signed_with_master": verify(WEBHOOK_SECRET, body, self.headers.get("X-Signature")),
                "bearer_ok": self.headers.get("Authorization") == f"Bearer {SMS_API_KEY}",
            }
        )
        status = int(self.path.rsplit("/", 1)[-1])
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", self.server.receiver.base_url + "/status/200")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReceiverHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    server.receiver = Receiver(base_url=f"http://{host}:{port}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server.receiver
    server.shutdown()
    server.server_close()
    thread.join()

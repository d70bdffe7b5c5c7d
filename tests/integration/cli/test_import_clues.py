"""import clues against a small real HTTP server that answers like intake's import endpoint.

The server answers as services/intake/api.py does: NDJSON, one result per line,
`{"line": n, "result": "accepted"|"rejected"|"failed", "code": ..., "errors": {...}}`, numbered
within the request body.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from shared import cli

KEY = "import-test-key"


class ImportEndpoint(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                              "type": self.headers.get("Content-Type"), "lines": body.count(b"\n")})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, "application/problem+json",
                              json.dumps({"title": "Unauthorized", "detail": "the key is unknown"}))
        results = []
        for n, line in enumerate(body.decode().splitlines(), start=1):
            try:
                clue = json.loads(line)
            except json.JSONDecodeError:
                results.append({"line": n, "result": "rejected", "code": 400,
                                "errors": {"_line": ["not JSON"]}})
                continue
            if clue.get("source") == "down":
                results.append({"line": n, "result": "failed", "code": 503,
                                "errors": {"_line": ["A dependency is down: send this line again."]}})
            elif clue.get("source") == "review":
                results.append({"line": n, "result": "accepted", "code": 202, "clue_id": f"c{n}"})
            else:
                results.append({"line": n, "result": "rejected", "code": 422,
                                "errors": {"source": ["must be review"]}})
        self._send(200, "application/x-ndjson", "".join(json.dumps(r) + "\n" for r in results))

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def intake_url():
    ImportEndpoint.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImportEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_clues(path, good: int, bad_lines: dict[int, str]) -> None:
    lines = []
    for n in range(1, good + len(bad_lines) + 1):
        lines.append(bad_lines.get(n, json.dumps({"source": "review", "summary": f"old clue {n}"})))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_line_accepted_in_batches(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 7, {})
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", intake_url, "--key", KEY,
                                          "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "accepted 7, rejected 0 of 7 lines" in result.stdout
    assert [r["lines"] for r in ImportEndpoint.requests] == [3, 3, 1]
    assert {r["path"] for r in ImportEndpoint.requests} == {"/v1/clues:import"}  # no batch: no query
    assert {r["type"] for r in ImportEndpoint.requests} == {"application/x-ndjson"}
    assert "importing" in result.stderr


def test_rejected_lines_are_reported_with_their_file_line_and_exit_1(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 4, {2: '{"source": "observer"}', 5: "{not json"})
    errors = tmp_path / "errors.ndjson"
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", intake_url, "--key", KEY,
                                          "--batch", "4", "--errors", str(errors)])
    assert result.exit_code == 1
    assert "accepted 4, rejected 2 of 6 lines" in result.stdout
    assert [json.loads(line) for line in errors.read_text().splitlines()] == [
        {"line": 2, "errors": {"source": ["must be review"]}},
        {"line": 5, "errors": {"_line": ["not JSON"]}},
    ]


def test_failed_lines_are_counted_apart_and_exit_1(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 2, {3: '{"source": "down"}'})
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", intake_url, "--key", KEY])
    assert result.exit_code == 1
    assert "accepted 2, rejected 0, failed 1 (run again to re-send them) of 3 lines" in result.stdout
    assert ('{"line": 3, "errors": {"_line": ["A dependency is down: send this line again."]}, '
            '"failed": true}') in result.stderr


def test_rejected_lines_go_to_stderr_without_an_errors_file(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 1, {1: '{"source": "observer"}'})
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", intake_url, "--key", KEY])
    assert result.exit_code == 1
    assert '{"line": 1, "errors": {"source": ["must be review"]}}' in result.stderr


def test_a_refused_key_stops_with_the_servers_reason(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 2, {})
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", intake_url,
                                          "--key", "wrong"])
    assert result.exit_code == 1
    assert "HTTP 401: the key is unknown" in result.output
    assert len(ImportEndpoint.requests) == 1


def test_nobody_listening_is_exit_3(tmp_path):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 1, {})
    result = CliRunner().invoke(cli.cli, ["import", "clues", str(path), "--url", "http://127.0.0.1:9",
                                          "--key", KEY])
    assert result.exit_code == 3
    assert "ConnectionError" in result.output


def test_a_review_batch_rides_on_every_request(tmp_path, intake_url):
    path = tmp_path / "clues.ndjson"
    write_clues(path, 3, {})
    args = ["import", "clues", str(path), "--url", intake_url, "--key", KEY, "--batch", "2"]
    alone = CliRunner().invoke(cli.cli, [*args, "--review-batch", "2026年大起底"])
    assert alone.exit_code == 2 and "--deadline" in alone.output and ImportEndpoint.requests == []
    result = CliRunner().invoke(cli.cli, [*args, "--review-batch", "2026年大起底",
                                          "--deadline", "2027-03-31T23:59:59+08:00"])
    assert result.exit_code == 0, result.output
    from urllib.parse import parse_qs, urlsplit

    queries = [parse_qs(urlsplit(r["path"]).query) for r in ImportEndpoint.requests]
    assert queries == [{"batch": ["2026年大起底"], "deadline": ["2027-03-31T23:59:59+08:00"]}] * 2


"""POST /v1/clues:import: NDJSON streamed line by line, one result per line."""

import io
import json

import pytest

from services.intake.app import create_app
from services.intake.documents import Clue
from shared.fakes import FakeBroker
from tests.unit.intake.clues import anonymous_clue, clue

pytestmark = pytest.mark.stack

NDJSON = "application/x-ndjson"


def ndjson(*lines) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                    for line in lines)


def results(resp) -> list[dict]:
    return [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]


def test_each_line_gets_its_result_and_a_bad_line_does_not_stop_the_others(client, keys):
    body = ndjson(
        clue(source="review"),
        b'{"source": "review",',
        anonymous_clue(colour="red"),
        b"",
        b'{"summary": "' + b"x" * (70 * 1024) + b'"}',
        [1, 2],
        anonymous_clue(source="review", summary="the last one"),
    )
    resp = client.post("/v1/clues:import", data=body, content_type=NDJSON, headers=keys["shiwan"])
    assert resp.status_code == 200 and resp.mimetype == NDJSON
    got = results(resp)
    assert [(r["line"], r["result"], r["code"]) for r in got] == [
        (1, "accepted", 202), (2, "rejected", 400), (3, "rejected", 422), (5, "rejected", 413),
        (6, "rejected", 422), (7, "accepted", 202)]
    assert "colour" in got[2]["errors"]
    assert got[0]["receipt"]["secret"] and Clue.objects.count() == 2


def test_supervisor_imports_only_under_their_jurisdiction(client, keys):
    body = ndjson(anonymous_clue(jurisdiction="foshan/chancheng/shiwan"),
                  anonymous_clue(jurisdiction="foshan/nanhai"))
    got = results(client.post("/v1/clues:import", data=body, content_type=NDJSON,
                              headers=keys["chancheng_supervisor"]))
    assert [r["code"] for r in got] == [202, 403]
    clue_id = got[0]["clue_id"]
    assert client.get(f"/v1/clues/{clue_id}", headers=keys["chancheng_supervisor"]).status_code == 200
    assert client.get(f"/v1/clues/{clue_id}", headers=keys["shiwan"]).status_code == 404


def test_import_with_idempotency_key_replays_line_by_line(client, keys):
    body = ndjson(anonymous_clue(summary="a"), anonymous_clue(summary="b"))
    headers = {**keys["shiwan"], "Idempotency-Key": "review-2020-batch-1"}
    first = results(client.post("/v1/clues:import", data=body, content_type=NDJSON, headers=headers))
    again = results(client.post("/v1/clues:import", data=body, content_type=NDJSON, headers=headers))
    assert [r["clue_id"] for r in first] == [r["clue_id"] for r in again]
    assert [r["replayed"] for r in again] == [True, True] and Clue.objects.count() == 2


@pytest.mark.parametrize("headers, content_type, status", [
    ("cadre", NDJSON, 403), (None, NDJSON, 401), ("shiwan", "application/xml", 415)])
def test_import_refusals(client, keys, headers, content_type, status):
    resp = client.post("/v1/clues:import", data=ndjson(anonymous_clue()), content_type=content_type,
                       headers=keys[headers] if headers else {})
    assert resp.status_code == status and resp.mimetype == "application/problem+json"


class Lines(io.RawIOBase):
    """`count` copies of one NDJSON line, made as they are read; counts the bytes read."""

    def __init__(self, line: bytes, count: int) -> None:
        self.line, self.count, self.position = line, count, 0
        self.size = len(line) * count

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # for the test client, which measures the body by seeking to its end

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.size + offset}[whence]
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        offset = self.position % len(self.line)
        chunk = self.line[offset:offset + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_ten_thousand_lines_stream_through_in_one_request(intake_settings, keys):
    # The in-memory broker keeps the relay's work out of this test: it is about the request.
    app = create_app(intake_settings, publisher=FakeBroker())
    client = app.test_client()
    line = json.dumps(anonymous_clue(source="review", details="回头看 " * 40)).encode() + b"\n"
    source = Lines(line, 10_000)
    assert source.size > 1024 * 1024  # over the body limit of the other routes
    resp = client.post("/v1/clues:import", input_stream=io.BufferedReader(source, 8192),
                       content_length=source.size, content_type=NDJSON, headers=keys["shiwan"],
                       buffered=False)
    assert resp.status_code == 200
    lines = iter(resp.response)
    first = json.loads(next(lines))
    read_at_first_result = source.position
    accepted = int(first["result"] == "accepted") + sum(
        json.loads(chunk)["result"] == "accepted" for chunk in lines)
    resp.close()
    assert accepted == 10_000
    app.extensions["intake_relay_stop"].set()
    assert read_at_first_result < 256 * 1024  # the first result came long before the body's end
    assert Clue.objects.count() == 10_000


def test_invalid_utf8_answers_that_line_and_the_import_goes_on(client, keys):
    body = ndjson(anonymous_clue(summary="first"), b'{"summary": "\xff\xfe broken"}',
                  b"\xc3\x28", anonymous_clue(summary="after"))
    resp = client.post("/v1/clues:import", data=body, content_type=NDJSON, headers=keys["shiwan"])
    got = results(resp)
    assert [(r["line"], r["code"]) for r in got] == [(1, 202), (2, 400), (3, 400), (4, 202)]
    assert got[1]["errors"]["_line"] == ["Not valid UTF-8 (byte 14)."]
    assert Clue.objects.count() == 2


@pytest.mark.parametrize("cap, value", [("import_max_lines", 3), ("import_max_bytes", 2048)])
def test_an_import_past_its_caps_stops_with_one_last_line(intake_settings, keys, cap, value):
    import dataclasses

    app = create_app(dataclasses.replace(intake_settings, **{cap: value}), publisher=FakeBroker(),
                     start_relay=False)
    lines = [anonymous_clue(summary=f"line {n}", details="x" * 600) for n in range(6)]
    resp = app.test_client().post("/v1/clues:import", data=ndjson(*lines), content_type=NDJSON,
                                  headers=keys["shiwan"])
    got = results(resp)
    assert [r["code"] for r in got[:-1]] == [202] * (len(got) - 1) and 1 <= len(got) - 1 <= 3
    assert got[-1]["code"] == 413 and "another import" in got[-1]["errors"]["_import"][0]
    assert Clue.objects.count() == len(got) - 1

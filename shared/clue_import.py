"""Importing old clues: an NDJSON file sent to intake's POST /v1/clues:import in batches.

The command line's `import clues` is the caller; this module holds what it does, without click.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO


class ImportRefused(Exception):
    """Intake answered a batch with an error, or with something that is not per-line results."""


class IntakeUnreachable(Exception):
    """Intake did not answer at all."""


def count_lines(path: Path) -> int:
    """The number of non-blank lines of an NDJSON file (what the progress bar counts)."""
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def batches(path: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """The file's non-blank lines as (line number in the file, bytes) in batches of `size`."""
    batch: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            batch.append((number, line.rstrip(b"\r\n")))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def parse_results(body: bytes) -> list[dict[str, Any]]:
    """The per-line results of an import response.

    Intake answers NDJSON, one result per line: `line` (1-based within the request body),
    `result` (`accepted`, `rejected`, or `failed` when a dependency was down: send it again),
    `code` and `errors`. Also read: a JSON list, or an object holding it under `results` or
    `items`, with `status` for `result`. The outcome is returned as `status`.
    """
    text = body.decode("utf-8").strip()
    try:
        parsed: Any = json.loads(text) if text else []
    except json.JSONDecodeError:
        parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(parsed, dict):
        wrapped = parsed.get("results", parsed.get("items"))
        parsed = wrapped if wrapped is not None else [parsed] if "line" in parsed else None
    if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
        raise ValueError("the response is not a list of per-line results")
    out = []
    for index, result in enumerate(parsed, start=1):
        status = result.get("result", result.get("status"))
        if status not in ("accepted", "rejected", "failed"):
            status = "accepted" if result.get("accepted") is True else "rejected"
        out.append({**result, "line": int(result.get("line", index)), "status": status})
    return out


class ClueImporter:
    """Posts batches to intake's import endpoint, retrying 429/503 as the server asks."""

    RETRIABLE = (429, 502, 503, 504)

    def __init__(self, url: str, key: str, tries: int = 5, timeout: float = 300.0,
                 review: tuple[str, str] | None = None) -> None:
        import requests

        self.endpoint = url.rstrip("/") + "/v1/clues:import"
        # a review batch (大起底/回头看): its name and 限期处置 deadline, on every request
        self.params = {"batch": review[0], "deadline": review[1]} if review else None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.tries = tries
        self.timeout = timeout

    def post(self, body: bytes) -> list[dict[str, Any]]:
        import requests

        headers = {"Content-Type": "application/x-ndjson",
                   # The same batch sent again (a re-run after a crash) is recognised as a repeat.
                   "Idempotency-Key": "import-" + hashlib.sha256(body).hexdigest()}
        for attempt in range(1, self.tries + 1):
            try:
                resp = self.session.post(self.endpoint, data=body, headers=headers, params=self.params,
                                         timeout=self.timeout)
            except requests.RequestException as exc:
                raise IntakeUnreachable(f"{self.endpoint}: {type(exc).__name__}") from None
            if resp.status_code in self.RETRIABLE and attempt < self.tries:
                time.sleep(min(30.0, float(resp.headers.get("Retry-After", "1") or 1)))
                continue
            if resp.status_code >= 400:
                detail = _problem_detail(resp)
                raise ImportRefused(f"{self.endpoint}: HTTP {resp.status_code}{detail}")
            try:
                return parse_results(resp.content)
            except ValueError as exc:
                raise ImportRefused(f"{self.endpoint}: {exc}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.session.close()


def _problem_detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("detail") or body.get("title")
        return f": {text}" if text else ""
    return ""


def send_file(path: Path, importer: ClueImporter, batch_size: int, errors_out: TextIO,
              progress: Callable[[int], None]) -> dict[str, int]:
    """Send the file's lines in batches; count each outcome and write each line that was not
    accepted (its number in the file and its errors) to `errors_out` as NDJSON."""
    counts = {"accepted": 0, "rejected": 0, "failed": 0}
    for batch in batches(path, batch_size):
        results = importer.post(b"\n".join(text for _, text in batch) + b"\n")
        if len(results) != len(batch):
            raise ImportRefused(f"the server answered {len(results)} results for {len(batch)} lines "
                                f"(lines {batch[0][0]}..{batch[-1][0]})")
        for result in results:
            counts[result["status"]] += 1
            if result["status"] != "accepted":
                errors_out.write(json.dumps(_not_accepted(batch, result), ensure_ascii=False) + "\n")
        progress(len(batch))
    return counts


def _not_accepted(batch: list[tuple[int, bytes]], result: dict[str, Any]) -> dict[str, Any]:
    file_line = batch[result["line"] - 1][0] if 1 <= result["line"] <= len(batch) else None
    entry = {"line": file_line, "errors": result.get("errors", result.get("detail", result["status"]))}
    if result["status"] == "failed":
        entry["failed"] = True
    return entry

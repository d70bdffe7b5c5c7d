"""The statistics a commission files each quarter (DOMAIN.md: report results per jurisdiction).

Figures are counted as cases move (`counters.py`), per quarter, per jurisdiction, on two bases:
`received` counts at the jurisdiction where the clue was received, `handled` at the jurisdiction
of the unit that had the case when it happened (an escalated case counts at the level that took
it). This module is the arithmetic: quarters in Shanghai time, which counter fields a fact adds,
the rows a request returns, the mean and p90 from day histograms, and the Chinese headers.
Plain Python: no storage here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.times import CHINA_TIME
from shared.vocabulary import DISPOSITION_LABELS, OUTCOME_LABELS

BASES = ("received", "handled")
BASIS_LABELS = {"received": "按受理地统计", "handled": "按办理层级统计"}
ESCALATION_REASONS = ("rank", "conflict", "amount", "repeat", "collusion", "network", "overdue", "manual")
QUARTER = re.compile(r"^(\d{4})Q([1-4])\Z")
DAY = 86400.0


def quarter_of(moment: datetime) -> str:
    """`2026Q4`: the quarter `moment` falls in, in Shanghai time."""
    local = moment.astimezone(CHINA_TIME)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years statistics can be asked about


def parse_quarter(raw: str) -> str:
    """A quarter as `YYYYQn` of a year from FIRST_YEAR to LAST_YEAR; ValueError otherwise."""
    match = QUARTER.match(raw or "")
    if not match:
        raise ValueError("Must be a quarter such as 2026Q4.")
    if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValueError(f"Must be a quarter of the years {FIRST_YEAR} to {LAST_YEAR}.")
    return raw


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of the quarter, Shanghai midnight, in UTC."""
    match = QUARTER.match(quarter)
    if match is None:
        raise ValueError(f"not a quarter: {quarter!r}")
    year, q = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * q - 2, 1, tzinfo=CHINA_TIME)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=CHINA_TIME)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_bucket(days: float) -> str:
    """The histogram field for a duration: hours below a day (`h_5` = 5 to 6 hours), whole days
    up to ten years (`d_12`), and one bucket beyond."""
    days = max(0.0, days)
    if days < 1:
        return f"h_{int(days * 24)}"
    return f"d_{min(int(days), 3650)}"


def duration_fields(prefix: str, days: float) -> dict[str, float]:
    """Counter increments for one duration: count and sum of days, and its bucket's count and sum."""
    days = round(max(0.0, days), 6)
    bucket = f"{prefix}_{day_bucket(days)}"
    return {f"{prefix}_n": 1, f"{prefix}_sum": days, bucket: 1, f"{bucket}_s": days}


def mean_p90(counts: Mapping[str, float], prefix: str) -> dict[str, float | None]:
    """Mean (exact) and p90 of the durations counted under `prefix`: the mean of the bucket that
    holds the 90th percentile (exact when its durations are equal; else off by less than the
    bucket, an hour below a day and a day above)."""
    n = int(counts.get(f"{prefix}_n", 0))
    if n == 0:
        return {"mean": None, "p90": None}
    buckets = []
    for key, count in counts.items():
        name = key[len(prefix) + 1 :]
        if key.startswith(prefix + "_") and name[:2] in ("h_", "d_") and not name.endswith("_s"):
            kind, _, value = name.partition("_")
            order = int(value) / 24 if kind == "h" else float(value)
            buckets.append((order, int(count), counts.get(f"{key}_s", 0.0)))
    rank, seen, p90 = max(1, math.ceil(0.9 * n)), 0, None
    for _order, count, total in sorted(buckets):
        seen += count
        if seen >= rank:
            p90 = total / count if count else None
            break
    mean = counts.get(f"{prefix}_sum", 0) / n
    return {"mean": round(mean, 3), "p90": None if p90 is None else round(p90, 3)}


def received_fields() -> dict[str, float]:
    return {"received": 1}


def accepted_fields(received_at: datetime, accepted_at: datetime) -> dict[str, float]:
    return {"accepted": 1, **duration_fields("accept", (accepted_at - received_at).total_seconds() / DAY)}


def escalation_fields(mode: str, reasons: Iterable[str]) -> dict[str, float]:
    if mode == "supervised":
        return {"supervised": 1}
    return {"escalated": 1, **{f"esc_{r}": 1 for r in reasons}}


def closed_fields(
    received_at: datetime, closed_at: datetime, disposition: str | None, outcomes: Iterable[str]
) -> dict[str, float]:
    out: dict[str, float] = {"closed": 1, f"disp_{disposition or 'none'}": 1}
    out.update({f"out_{o}": 1 for o in outcomes})
    out.update(duration_fields("close", (closed_at - received_at).total_seconds() / DAY))
    return out


def add(into: Counter[str], counts: Mapping[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            into[key] += value


def row(label: str, code: str | None, counts: Mapping[str, float]) -> dict[str, Any]:
    """One row of the table, from the summed counters of one jurisdiction (or subtree)."""
    return {
        "jurisdiction": code,
        "name": label,
        "received": int(counts.get("received", 0)),
        "accepted": int(counts.get("accepted", 0)),
        "escalated": int(counts.get("escalated", 0)),
        "escalated_by_reason": {r: int(counts.get(f"esc_{r}", 0)) for r in ESCALATION_REASONS},
        "supervised": int(counts.get("supervised", 0)),
        "closed": int(counts.get("closed", 0)),
        "closed_by_disposition": {d: int(counts.get(f"disp_{d}", 0)) for d in DISPOSITION_LABELS},
        "closed_by_outcome": {o: int(counts.get(f"out_{o}", 0)) for o in OUTCOME_LABELS},
        "overdue": int(counts.get("overdue", 0)),
        "duties_missed": int(counts.get("duties_missed", 0)),
        "days_to_accept": mean_p90(counts, "accept"),
        "days_to_close": mean_p90(counts, "close"),
    }


REASON_LABELS = {
    "rank": "干部管理权限", "conflict": "利益冲突", "amount": "涉案金额", "repeat": "重复举报",
    "collusion": "上下串通", "network": "关联网络", "overdue": "超期未办", "manual": "人工提级",
}


def columns() -> list[tuple[str, str]]:
    """(Chinese header, how to read the row) for every column of the CSV and XLSX tables."""
    cols = [("统计口径", "basis"), ("辖区", "name"), ("辖区代码", "jurisdiction"), ("受理线索", "received"),
            ("已受理", "accepted"), ("提级办理", "escalated")]
    cols += [(f"提级：{REASON_LABELS[r]}", f"escalated_by_reason.{r}") for r in ESCALATION_REASONS]
    cols += [("重点督办", "supervised"), ("办结", "closed")]
    cols += [(f"处置：{label}", f"closed_by_disposition.{d}") for d, label in DISPOSITION_LABELS.items()]
    cols += [(f"结果：{label}", f"closed_by_outcome.{o}") for o, label in OUTCOME_LABELS.items()]
    cols += [("超期", "overdue"), ("逾期未履行职责", "duties_missed"),
             ("平均受理天数", "days_to_accept.mean"), ("受理天数P90", "days_to_accept.p90"),
             ("平均办结天数", "days_to_close.mean"), ("办结天数P90", "days_to_close.p90")]
    return cols


def cell(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else value


def table(report: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The report as a header row and data rows (each basis's rows, then its total)."""
    cols = columns()
    body: list[list[Any]] = []
    for basis in BASES:
        part = report["bases"][basis]
        for item in [*part["rows"], part["total"]]:
            body.append([BASIS_LABELS[basis] if path == "basis" else cell(item, path) for _, path in cols])
    return [header for header, _ in cols], body

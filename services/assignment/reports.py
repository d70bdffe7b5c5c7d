"""GET /v1/stats and its CSV and XLSX forms: the quarter's figures per child jurisdiction.

Everything comes from the statistics counters (counters.py) of the jurisdictions in scope, read
by id, and one indexed count of the queue (report_store.py): no request reads the cases or
escalations.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from shared.auth import Principal, jurisdiction_within
from shared.problems import Problem

from . import counters, report_store, statistics
from .registry import Registry

MAX_QUARTERS = 40


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Unprocessable Content", message, errors={field: [message]})


def scope_of(principal: Principal, registry: Registry, jurisdiction: str | None) -> str:
    """The jurisdiction asked about: the one named, else the supervisor's own, else the city."""
    scope = jurisdiction or (principal.scope if principal.role == "supervisor" else None)
    if principal.role == "supervisor" and (scope is None or not jurisdiction_within(scope, principal.scope)):
        raise Problem(403, "Forbidden", "that jurisdiction is outside yours")
    if scope is None:
        roots = [j.code for j in registry.jurisdictions() if j.parent is None]
        if not roots:
            raise Problem(404, "Not Found", "the registry has no jurisdictions")
        return roots[0]
    if registry.jurisdiction(scope) is None:
        raise _invalid("jurisdiction", "unknown jurisdiction")
    return scope


def quarters(now: datetime, quarter: str | None, start: datetime | None, end: datetime | None) -> list[str]:
    """The quarters asked about: `quarter`, else those `from`..`to` overlap, else the current one."""
    if quarter:
        return [quarter]
    if start is None and end is None:
        return [statistics.quarter_of(now)]
    first = statistics.quarter_of(start or now)
    last = statistics.quarter_of((end - timedelta(milliseconds=1)) if end else now)
    out, q = [], first
    while q <= last and len(out) <= MAX_QUARTERS:
        out.append(q)
        q = statistics.quarter_of(statistics.quarter_bounds(q)[1])
    if len(out) > MAX_QUARTERS:
        raise _invalid("from", f"at most {MAX_QUARTERS} quarters at once")
    if not out:
        raise _invalid("to", "must be after from")
    return out


def _within(registry: Registry, code: str) -> list[str]:
    return [j.code for j in registry.jurisdictions() if registry.is_within(j.code, code)]


def _sum(sums: dict[tuple[str, str], Counter[str]], basis: str, codes: list[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for code in codes:
        statistics.add(total, sums.get((basis, code), {}))
    return total


def _basis_rows(sums, basis: str, scope: str, registry: Registry) -> dict[str, Any]:
    children = [j for j in registry.jurisdictions() if j.parent == scope]
    rows = [statistics.row(c.name, c.code, _sum(sums, basis, _within(registry, c.code))) for c in children]
    rows.append(statistics.row("本级", scope, sums.get((basis, scope), Counter())))
    total = statistics.row("合计", scope, _sum(sums, basis, _within(registry, scope)))
    return {"rows": rows, "total": total}


def _queued(registry: Registry, scope: str) -> int:
    return report_store.queued_within(registry.units_within(scope))


def report(
    principal: Principal,
    registry: Registry,
    now: datetime,
    jurisdiction: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    quarter: str | None = None,
) -> dict[str, Any]:
    """The figures per child jurisdiction on both bases, and (as before) the totals of the
    jurisdiction counted where the cases were handled."""
    scope = scope_of(principal, registry, jurisdiction)
    asked = quarters(now, quarter, start, end)
    sums = counters.read(asked, _within(registry, scope))
    bases = {basis: _basis_rows(sums, basis, scope, registry) for basis in statistics.BASES}
    total = bases["handled"]["total"]
    first, last = statistics.quarter_bounds(asked[0])[0], statistics.quarter_bounds(asked[-1])[1]
    return {
        "jurisdiction": scope,
        "quarters": asked,
        "from": start or first,
        "to": end or last,
        "bases": bases,
        "received": total["received"],
        "accepted": total["accepted"],
        "escalated": {"cases": total["escalated"],
                      "by_reason": {k: v for k, v in total["escalated_by_reason"].items() if v}},
        "supervised": total["supervised"],
        "closed": {
            "cases": total["closed"],
            "by_disposition": {k: v for k, v in total["closed_by_disposition"].items() if v},
            "by_outcome": {k: v for k, v in total["closed_by_outcome"].items() if v},
        },
        "overdue": total["overdue"],
        "duties_missed": total["duties_missed"],
        "queued": _queued(registry, scope),
        "days_to_accept": total["days_to_accept"],
        "days_to_close": total["days_to_close"],
    }


def as_csv(data: dict[str, Any]) -> bytes:
    """The table with Chinese headers, UTF-8 with a byte-order mark (so spreadsheets read it)."""
    headers, rows = statistics.table(data)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(data: dict[str, Any]) -> bytes:
    """The same table as an Excel workbook (openpyxl), one sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    headers, rows = statistics.table(data)
    book = Workbook()
    sheet = book.active
    sheet.title = "季度统计"
    sheet.append([f"{data['jurisdiction']} {'、'.join(data['quarters'])}"])
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

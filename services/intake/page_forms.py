"""What the reporter's form holds and offers: the POST /v1/clues body a posted form stands for,
the schema's errors mapped to the form's inputs in the page's language, and the registry's places
(jurisdictions, employers) it lets one choose."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from services.intake.page_texts import TEXTS, text
from shared.catalogs import locale_lang
from shared.forms import FormErrors, error_text
from shared.settings import SettingsError

_CJK = re.compile(r"[\u4e00-\u9fff]")

# Form inputs by the dotted path the schema reports errors under; contact details share one input.
FIELD_IDS: dict[str, str] = {
    "category": "f-category", "summary": "f-summary", "details": "f-details",
    "jurisdiction": "f-jurisdiction", "occurred_on": "f-occurred_on", "amount_cny": "f-amount_cny",
    "collusion": "f-collusion", "subject": "f-subject-name", "subject.name": "f-subject-name",
    "subject.position": "f-subject-position", "subject.employer": "f-subject-employer",
    "subject.rank": "f-subject-rank", "subject.party_member": "f-subject-party_member",
    "reporter": "f-reporter-anonymous", "reporter.anonymous": "f-reporter-anonymous",
    "reporter.name": "f-reporter-name", "reporter.channel": "f-reporter-channel",
    "reporter.email": "f-reporter-contact", "reporter.phone": "f-reporter-contact",
    "reporter.webhook_url": "f-reporter-contact", "reporter.lang": "f-reporter-anonymous",
    "code": "f-code", "secret": "f-secret", "message": "f-message", "objection": "f-objection",
}
IDENTITY_INPUTS = ("reporter.name", "reporter.channel", "reporter.contact")
WEB_CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Place:
    """A jurisdiction or employer of the registry, with its names for the page."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Places:
    """The choices of the form: jurisdictions grouped by district, and employers."""

    groups: list[tuple[Place, list[Place]]]
    employers: list[Place]


def _names(name: str) -> tuple[str, str]:
    """("石湾镇街道", "Shiwan") from "Shiwan 石湾镇街道"; a name without Chinese serves both."""
    match = _CJK.search(name)
    if not match:
        return name, name
    return name[match.start():].strip(), (name[:match.start()].strip() or name)


def load_places(data: dict[str, Any], path: str) -> Places:
    """The registry's jurisdictions (city, districts, towns) and employers, from the file at `path`
    as read (settings.read_registry).

    Raises SettingsError naming INTAKE_REGISTRY_FILE when they are not as a registry has them.
    """
    try:
        rows = list(data.get("jurisdictions") or [])
        places = {row["code"]: Place(row["code"], *_names(str(row.get("name") or row["code"])))
                  for row in rows}
        employers = [Place(row["code"], *_names(str(row.get("name") or row["code"])))
                     for row in data.get("employers") or []]
    except (KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(f"INTAKE_REGISTRY_FILE: cannot read the registry {path}: "
                            f"{type(exc).__name__}") from None
    tops = [row["code"] for row in rows if not row.get("parent") or row["parent"] not in places]
    groups: list[tuple[Place, list[Place]]] = []
    for top in tops:
        groups.append((places[top], [places[top]]))
        for district in (r["code"] for r in rows if r.get("parent") == top):
            towns = [places[r["code"]] for r in rows if r.get("parent") == district]
            groups.append((places[district], [places[district], *towns]))
    return Places(groups, employers)


def _phone(text: str) -> str:
    """A mainland mobile number as typed (13800000000, 138 0000 0000) in the +86 form; else as typed."""
    digits = re.sub(r"[\s-]", "", text)
    if re.fullmatch(r"1[0-9]{10}", digits):
        return "+86" + digits
    if re.fullmatch(r"\+[0-9]+", digits):
        return digits
    return text


def _amount(text: str) -> int | str:
    cleaned = re.sub(r"[\s,，]", "", text)
    return int(cleaned) if re.fullmatch(r"[0-9]{1,15}", cleaned) else text


def _filled(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def clue_payload(form: MultiDict, lang: str) -> dict[str, Any]:
    """The POST /v1/clues body the form stands for; empty inputs are left out (so "required").

    An anonymous reporter's body carries nothing of who they are, whatever the form held.
    """
    body: dict[str, Any] = {"source": "public_report", "collusion": form.get("collusion") == "yes"}
    for name in ("category", "summary", "details", "jurisdiction", "occurred_on"):
        if _filled(form, name):
            body[name] = _filled(form, name)
    if _filled(form, "amount_cny"):
        body["amount_cny"] = _amount(_filled(form, "amount_cny"))
    subject: dict[str, Any] = {}
    for name in ("name", "position", "employer", "rank"):
        if _filled(form, f"subject.{name}"):
            subject[name] = _filled(form, f"subject.{name}")
    party = _filled(form, "subject.party_member")
    if party in ("yes", "no"):
        subject["party_member"] = party == "yes"
    body["subject"] = subject
    choice = form.get("reporter.anonymous")
    if choice == "yes":
        body["reporter"] = {"anonymous": True}
    elif choice == "no":
        reporter: dict[str, Any] = {"anonymous": False, "lang": lang}
        for name in ("name", "channel"):
            if _filled(form, f"reporter.{name}"):
                reporter[name] = _filled(form, f"reporter.{name}")
        contact = _filled(form, "reporter.contact")
        if contact and reporter.get("channel") == "email":
            reporter["email"] = contact
        elif contact and reporter.get("channel") == "sms":
            reporter["phone"] = _phone(contact)
        body["reporter"] = reporter
    else:
        body["reporter"] = {}
    return body


NO_ERRORS = FormErrors({}, [])


def form_errors(flat: dict[str, list[str]]) -> FormErrors:
    """Map the schema's dotted error paths to the form's inputs, in the page's language."""
    errors, lang = FormErrors({}, []), locale_lang()
    for path, messages in flat.items():
        input_id = FIELD_IDS.get(path, "f-form")
        label_key = input_id[2:].replace("-", ".")  # "f-subject-name" is labelled by "subject.name"
        label = text(label_key) if label_key in TEXTS else ""
        for message in messages:
            shown = error_text(message, lang)
            errors.by_input.setdefault(input_id, []).append(shown)
            errors.summary.append((input_id, label, shown))
    return errors

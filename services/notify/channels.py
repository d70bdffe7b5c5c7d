"""Delivery channels: one `send(contact, message)` each, answering sent, retry or failed.

A DeliveryResult's reason is a fixed phrase or a status code, never text taken from a
server's reply or an exception, so it can never carry the reporter's contact details.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import requests
from ulid import ULID

from services.notify import pinned_http
from services.notify.templates import SMS_MAX_CHARS, Message
from shared.sealing import webhook_recipient_secret as recipient_secret

Status = Literal["sent", "retry", "failed"]

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


@dataclass(frozen=True)
class DeliveryResult:
    """What one delivery attempt came to; `reason` never holds contact details."""

    status: Status
    reason: str | None = None


SENT = DeliveryResult("sent")


class Channel(Protocol):
    """A way to reach a reporter. `send` never raises for delivery problems."""

    name: str

    def send(
        self, contact: dict, message: Message, *, delivery_id: str | None = None
    ) -> DeliveryResult: ...


def sign(secret: bytes, body: bytes) -> str:
    """The X-Signature header value for `body`: "sha256=<hex HMAC-SHA256>"."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of exactly `body` (compared in constant time)."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def http_status_result(status: int) -> DeliveryResult:
    """Map an HTTP status: 2xx sent; 408, 429 and 5xx retry; anything else failed."""
    if 200 <= status < 300:
        return SENT
    if status in (408, 429) or 500 <= status < 600:
        return DeliveryResult("retry", f"http {status}")
    return DeliveryResult("failed", f"http {status}")


def smtp_code_result(code: int) -> DeliveryResult:
    """Map an SMTP reply code: 4xx retry, anything else failed."""
    if 400 <= code < 500:
        return DeliveryResult("retry", f"smtp {code}")
    return DeliveryResult("failed", f"smtp {code}")


class InboxChannel:
    """The inbox: the notify service stores the message itself, so delivery always succeeds."""

    name = "inbox"

    def send(
        self, contact: dict, message: Message, *, delivery_id: str | None = None
    ) -> DeliveryResult:
        return SENT


class EmailChannel:
    """Email over SMTP: a text and HTML multipart message to contact["email"]."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.starttls = starttls
        self.username = username
        self.password = password

    def send(
        self, contact: dict, message: Message, *, delivery_id: str | None = None
    ) -> DeliveryResult:
        address = contact.get("email") if isinstance(contact, Mapping) else None
        if not isinstance(address, str) or not _EMAIL.match(address):
            return DeliveryResult("failed", "no valid email address")
        if self.username is not None and not self.starttls:
            # A password is never sent in the clear (NotifySettings refuses this at start-up too).
            return DeliveryResult("failed", "smtp login needs starttls")
        email = self._build(address, message, delivery_id or str(ULID()))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()] or [550]
            return smtp_code_result(max(codes))
        except smtplib.SMTPResponseException as error:
            return smtp_code_result(error.smtp_code)
        except smtplib.SMTPServerDisconnected:
            return DeliveryResult("retry", "smtp server disconnected")
        except smtplib.SMTPNotSupportedError:
            return DeliveryResult("failed", "smtp extension not supported")
        except ConnectionRefusedError:
            return DeliveryResult("retry", "smtp connection refused")
        except TimeoutError:
            return DeliveryResult("retry", "smtp timeout")
        except ssl.SSLError:
            return DeliveryResult("retry", "smtp tls error")
        except (smtplib.SMTPException, OSError):
            return DeliveryResult("retry", "smtp error")
        return SENT

    def _build(self, address: str, message: Message, delivery_id: str) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.sender
        email["To"] = address
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # The same id on every attempt lets a mail system drop duplicates.
        email["Message-ID"] = f"<{delivery_id}@notify.campaign>"
        email.set_content(message.text, charset="utf-8")
        email.add_alternative(message.html, subtype="html", charset="utf-8")
        return email


class _JsonPoster:
    """POSTs a JSON body and maps the response; shared by webhook and SMS gateway."""

    timeout: float

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.Timeout:
            return DeliveryResult("retry", "http timeout")
        except requests.ConnectionError:
            return DeliveryResult("retry", "http connection error")
        except requests.RequestException:
            return DeliveryResult("failed", "http request error")
        response.close()
        return http_status_result(response.status_code)


class WebhookChannel:
    """POST to contact["webhook_url"], body signed with HMAC-SHA256 in X-Signature under that
    recipient's own secret (`recipient_secret`), so no recipient can sign for another.

    The host is resolved once and the connection goes to the checked address (`pinned_http`):
    unless allow_private_hosts is set, a host with any loopback, private, link-local or otherwise
    non-public address is refused, and no second lookup can swap in one (DNS rebinding). The whole
    exchange has `timeout` seconds, and at most a few KiB of the answer are read.
    """

    name = "webhook"

    def __init__(self, secret: bytes, timeout: float, *, allow_private_hosts: bool = False,
                 resolver: pinned_http.Resolver = socket.getaddrinfo,
                 connect: pinned_http.Connector = socket.create_connection):
        if not secret:
            raise ValueError("webhook secret must not be empty")
        self.secret = secret
        self.timeout = timeout
        self.allow_private_hosts = allow_private_hosts
        self.resolver = resolver
        self.connect = connect

    def send(
        self, contact: dict, message: Message, *, delivery_id: str | None = None
    ) -> DeliveryResult:
        url = contact.get("webhook_url") if isinstance(contact, Mapping) else None
        if not isinstance(url, str) or not _is_http_url(url):
            return DeliveryResult("failed", "webhook url is not http(s)")
        try:
            target = pinned_http.resolve(url, self.allow_private_hosts, self.resolver)
        except pinned_http.NotPublic:
            return DeliveryResult("failed", "webhook host is not public")
        except pinned_http.Unresolved:
            return DeliveryResult("retry", "webhook host not resolved")
        except ValueError:
            return DeliveryResult("failed", "webhook url is not http(s)")
        event_id = delivery_id or str(ULID())
        body = webhook_body(event_id, message)
        own = contact.get("webhook_secret")
        secret = own.encode("utf-8") if isinstance(own, str) and own else recipient_secret(self.secret, url)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Event-Id": event_id,
            "X-Signature": sign(secret, body),
        }
        try:
            status = pinned_http.post(target, body, headers, self.timeout, connect=self.connect)
        except (pinned_http.TooSlow, TimeoutError):
            return DeliveryResult("retry", "http timeout")
        except ssl.SSLError:
            return DeliveryResult("retry", "http tls error")
        except OSError:
            return DeliveryResult("retry", "http connection error")
        except ValueError:
            return DeliveryResult("retry", "http answer not understood")
        return http_status_result(status)


def webhook_body(event_id: str, message: Message) -> bytes:
    """The exact bytes a webhook receives (and that X-Signature signs)."""
    payload = {
        "id": event_id,
        "type": "campaign.notification.v1",
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class SmsGatewayChannel(_JsonPoster):
    """SMS through an HTTP gateway: POST {"to", "text"} with a bearer key."""

    name = "sms"

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        if not _is_http_url(url):
            raise ValueError("sms gateway url must be http(s)")
        self.url = url
        self.api_key = api_key
        self.timeout = timeout

    def send(
        self, contact: dict, message: Message, *, delivery_id: str | None = None
    ) -> DeliveryResult:
        phone = contact.get("phone") if isinstance(contact, Mapping) else None
        number = phone.replace(" ", "") if isinstance(phone, str) else ""
        if not _PHONE.match(number):
            return DeliveryResult("failed", "no valid phone number")
        text = message.sms or message.text
        if len(text) > SMS_MAX_CHARS:
            text = text[: SMS_MAX_CHARS - 1] + "…"
        body = json.dumps({"to": number, "text": text}, ensure_ascii=False).encode("utf-8")
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json; charset=utf-8",
            "X-Event-Id": delivery_id or str(ULID()),
        }
        return self._post(self.url, body, headers)


def channel_for(name: str, settings: Mapping[str, Any] | Any) -> Channel:
    """Build the channel called `name` from a mapping or an object with these settings:

    email: smtp_host, smtp_port, smtp_sender, smtp_timeout, smtp_starttls, smtp_username,
    smtp_password; webhook: webhook_secret (bytes or str), webhook_timeout,
    webhook_allow_private_hosts; sms: sms_gateway_url, sms_api_key, sms_timeout.
    Raises ValueError for an unknown name.
    """

    def get(key: str, default: Any = None) -> Any:
        if isinstance(settings, Mapping):
            return settings.get(key, default)
        return getattr(settings, key, default)

    if name == "inbox":
        return InboxChannel()
    if name == "email":
        return EmailChannel(
            get("smtp_host", "127.0.0.1"),
            int(get("smtp_port", 25)),
            get("smtp_sender"),
            float(get("smtp_timeout", 10.0)),
            starttls=bool(get("smtp_starttls", False)),
            username=get("smtp_username"),
            password=get("smtp_password"),
        )
    if name == "webhook":
        secret = get("webhook_secret")
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        return WebhookChannel(
            secret,
            float(get("webhook_timeout", 10.0)),
            allow_private_hosts=bool(get("webhook_allow_private_hosts", False)),
        )
    if name == "sms":
        return SmsGatewayChannel(
            get("sms_gateway_url"), get("sms_api_key"), float(get("sms_timeout", 10.0))
        )
    raise ValueError(f"unknown channel: {name!r}")


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)

"""One HTTP POST to an address checked once: resolve, check, connect to that very address.

`requests` would resolve the host again after the check, so a name that answers a public address
to the check and a private one to the connection (DNS rebinding) would reach internal services.
Here the host is resolved once, every address it gives is checked, and the connection goes to the
first checked address; TLS still verifies the certificate against the host name (SNI too).

Caps: the whole exchange (connect, TLS, send, the answer's head) within `total_s`, whatever the
server's pace; at most `max_answer_bytes` of the answer are read (only its status line is used).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 16 * 1024

Resolver = Callable[..., list]
Connector = Callable[[tuple[str, int], float], socket.socket]


class NotPublic(Exception):
    """The host resolves to an address that is not public."""


class Unresolved(Exception):
    """The host does not resolve (now)."""


class TooSlow(Exception):
    """The exchange took longer than its total time."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve(url: str, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> Target:
    """The URL's target with its checked address (NotPublic, Unresolved, ValueError)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    try:
        infos = resolver(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise Unresolved(host) from None
    addresses = [info[4][0].split("%", 1)[0] for info in infos]
    if not addresses:
        raise Unresolved(host)
    if not allow_private and not all(ipaddress.ip_address(a).is_global for a in addresses):
        raise NotPublic(host)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TooSlow()
    return left


def post(target: Target, body: bytes, headers: dict[str, str], total_s: float, *,
         connect: Connector = socket.create_connection, max_answer_bytes: int = MAX_ANSWER_BYTES) -> int:
    """POST `body` to `target` at its checked address; the answer's status code.

    Raises TooSlow past `total_s`, OSError/ssl.SSLError for network trouble, ValueError for an
    answer that is not HTTP.
    """
    deadline = time.monotonic() + total_s
    sock = connect((target.address, target.port), _remaining(deadline))
    try:
        if target.scheme == "https":
            context = ssl.create_default_context()
            sock.settimeout(_remaining(deadline))
            sock = context.wrap_socket(sock, server_hostname=target.host)
        host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        if ":" in target.host:
            host = f"[{target.host}]:{target.port}"
        head = [f"POST {target.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
                "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        sock.settimeout(_remaining(deadline))
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        return _status(sock, deadline, max_answer_bytes)
    finally:
        sock.close()


def _status(sock: socket.socket, deadline: float, max_answer_bytes: int) -> int:
    answer = b""
    while b"\r\n" not in answer:
        if len(answer) >= max_answer_bytes:
            raise ValueError("answer too long")
        sock.settimeout(_remaining(deadline))
        try:
            chunk = sock.recv(min(4096, max_answer_bytes - len(answer)))
        except TimeoutError:
            raise TooSlow() from None
        if not chunk:
            break
        answer += chunk
    parts = answer.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError("not an HTTP answer")
    return int(parts[1])

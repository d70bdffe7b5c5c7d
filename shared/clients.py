"""Who a client is, for limits: its IPv4 address, or the /64 of its IPv6 address.

The address is `request.remote_addr` as `shared.web` set it from exactly TRUSTED_PROXY_HOPS
proxies. One IPv6 household or phone holds a whole /64, so counting per address would let it
draw a fresh bucket for every try.
"""

from __future__ import annotations

import ipaddress


def client_network(address: str | None) -> str:
    """What one client is keyed by: its IPv4 address, or the /64 of its IPv6 address."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)

"""Who the client is behind reverse proxies (``ETA_API__TRUST_FORWARDED_FOR``, ``ETA_API__TRUSTED_PROXIES``).

Each proxy appends the address it received the request from to ``X-Forwarded-For``; everything left of
what our own proxies wrote was written by the client and proves nothing. The client is therefore the
right-most address that is not one of our proxies: given as a number of proxies in front of eta, or as
their networks (then a peer outside them is taken as the client, whatever it sends). The scheme the
client used comes from the nearest proxy's ``X-Forwarded-Proto``.

:class:`TrustedProxies` rewrites the ASGI scope's ``client`` and ``scheme`` once, so every part of the app
(rate limits, the dashboard's ``Secure`` cookies) sees the same client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_WEBSOCKET = {"http": "ws", "https": "wss"}


def client_address(peer: str, forwarded: Sequence[str], trusted: int | Sequence[str]) -> str:
    """The client's address given the connection's ``peer``, the ``X-Forwarded-For`` entries (left to right)
    and the trusted proxies (how many, or their networks)."""
    chain = [*forwarded, peer]
    if isinstance(trusted, int):
        return chain[max(len(chain) - 1 - trusted, 0)]
    networks = _networks(tuple(trusted))
    for address in reversed(chain):
        if not _within(address, networks):
            return address
    return chain[0]


def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _peer_is_trusted(peer: str, trusted: int | Sequence[str]) -> bool:
    if isinstance(trusted, int):
        return trusted > 0
    return _within(peer, _networks(tuple(trusted)))


class TrustedProxies:
    """Pure ASGI middleware: the client address and scheme as our proxies saw them."""

    def __init__(self, app: ASGIApp, trusted: int | Sequence[str]) -> None:
        self.app = app
        self.trusted = trusted if isinstance(trusted, int) else tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            if _peer_is_trusted(peer, self.trusted):
                forwarded, proto = _forwarded(scope)
                scope = dict(scope)
                scope["client"] = (client_address(peer, forwarded, self.trusted), port)
                if proto in ("http", "https"):
                    scope["scheme"] = (
                        proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
                    )
        await self.app(scope, receive, send)


def _forwarded(scope: Scope) -> tuple[list[str], str | None]:
    """The X-Forwarded-For entries (every header, in order) and the nearest proxy's X-Forwarded-Proto."""
    entries: list[str] = []
    proto = None
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            entries += [e.strip() for e in value.decode("latin-1").split(",") if e.strip()]
        elif name == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[-1].strip().lower()
    return entries, proto

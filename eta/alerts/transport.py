"""Outbound HTTP to an address a stranger chose (webhook URLs, Web Push endpoints), made safe.

* The URL is checked (scheme, no credentials, an allowed port), then its host is resolved **once** per
  delivery; every address it resolves to must be public (or in ``allowed_target_networks``), IPv6 forms
  that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by that address, and
  the connection goes to the address that passed, with the name kept for ``Host`` and TLS (SNI and
  certificate check). A name that answers differently the next time (DNS rebinding) changes nothing.
* One delivery has one total deadline: look-up, connect, TLS, sending, and the answer's head. A watchdog
  shuts the socket at the deadline, so an endpoint dripping its answer a byte at a time cannot stretch it.
* Of the answer only the status and at most ``max_response_bytes`` of the body are read.
* Redirects are never followed; proxies from the environment are never used.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import SplitResult, urlsplit

from eta.config import AlertsSettings
from eta.errors import InputError

MAX_URL = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the well-known prefix, IPv4 in the last 32 bits
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local-use translation, never public
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (and ::, ::1)
# look-ups run here so that a name server that never answers cannot hold a delivery past its deadline
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="eta-resolve")


@dataclass(frozen=True)
class TargetPolicy:
    """Which targets deliveries may go to."""

    allow_private: bool  # tests: any address and port
    allow_http: bool
    ports: frozenset[int]
    networks: tuple[Network, ...]  # accepted although not public (an in-house relay)

    @classmethod
    def from_settings(cls, alerts: AlertsSettings) -> TargetPolicy:
        ports = set(alerts.allowed_ports) or ({443, 80} if alerts.allow_plain_http else {443})
        return cls(
            allow_private=alerts.allow_private_targets,
            allow_http=alerts.allow_plain_http,
            ports=frozenset(ports),
            networks=tuple(ipaddress.ip_network(n, strict=False) for n in alerts.allowed_target_networks),
        )


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the one address a delivery connects to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str


class DeliveryError(Exception):
    """A delivery that could not be made: ``kind`` is timeout or connection (worth a retry)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    """The endpoint's answer: status, headers and at most ``max_response_bytes`` of the body."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def check_url(url: str, policy: TargetPolicy) -> SplitResult:
    """The parts of ``url`` if its form is acceptable, else :class:`InputError` saying why."""
    if len(url) > MAX_URL:
        raise InputError(f"the webhook URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"the webhook URL is malformed ({exc})") from None
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise InputError(f"the webhook URL must start with {' or '.join(s + '://' for s in allowed)}")
    if not parts.hostname:
        raise InputError("the webhook URL has no host")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not contain credentials")
    port = port or (443 if parts.scheme == "https" else 80)
    if not policy.allow_private and port not in policy.ports:
        listed = ", ".join(str(p) for p in sorted(policy.ports))
        raise InputError(f"the webhook URL's port must be one of {listed}")
    return parts


def refusal(address: Address, policy: TargetPolicy) -> str | None:
    """Why eta must not connect to ``address`` (None: it may)."""
    if policy.allow_private or any(address in network for network in policy.networks):
        return None
    if not _public(address):
        return "a private, loopback or link-local address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if (
            address in _NAT64_LOCAL
            or address in _IPV4_COMPATIBLE
            or not (embedded is None or _public(embedded))
        ):
            return "an IPv6 form of a non-public IPv4 address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def resolve(
    parts: SplitResult, policy: TargetPolicy, *, timeout_s: float, resolver: Resolver | None = None
) -> Target:
    """Look the host up once; every address must pass; the first one is the one to connect to."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    lookup = resolver or socket.getaddrinfo  # looked up at call time: tests stand in for DNS
    try:
        infos = _LOOKUPS.submit(lookup, host, port, proto=socket.IPPROTO_TCP).result(timeout=timeout_s)
    except FutureTimeout:
        raise InputError(f"the webhook host {host!r} did not resolve in time") from None
    except (OSError, UnicodeError):
        raise InputError(f"the webhook host {host!r} cannot be resolved") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise InputError(f"the webhook host {host!r} cannot be resolved")
    for address in addresses:
        why = refusal(address, policy)
        if why is not None:
            raise InputError(f"the webhook host {host!r} resolves to {why}; targets must be public")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.geturl(), parts.scheme, host, port, path, str(addresses[0]))


def check_target(url: str, policy: TargetPolicy, *, timeout_s: float = 5.0) -> Target:
    """:func:`check_url` and :func:`resolve`: the target as a delivery would connect to it now."""
    return resolve(check_url(url, policy), policy, timeout_s=timeout_s)


def post(
    target: Target,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline_s: float,
    max_response_bytes: int,
) -> Reply:
    """POST ``body`` to the target's checked address within ``deadline_s`` in all; raises
    :class:`DeliveryError` when it cannot."""
    deadline = time.monotonic() + deadline_s
    conn = _connection(target, deadline_s)
    watchdog = threading.Timer(deadline_s, _hang_up, (conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", target.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        content = _read_some(response, max_response_bytes, deadline)
        return Reply(response.status, response.reason, dict(response.getheaders()), content)
    except (OSError, http.client.HTTPException, ValueError):
        raise DeliveryError("timeout" if time.monotonic() >= deadline - 0.05 else "connection") from None
    finally:
        watchdog.cancel()
        conn.close()


def _read_some(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """At most ``limit`` bytes of the body, as far as they come before the deadline (the status is known)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit and time.monotonic() < deadline:
            chunk = response.read1(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, http.client.HTTPException):
        pass  # the body is a courtesy: the status has been read
    return b"".join(chunks)


def _hang_up(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to ``address``, with the URL's host in ``Host``."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to ``address``: SNI and the certificate check use the URL's host."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        self.sock = _tls_context().wrap_socket(self.sock, server_hostname=self.host)


def _connection(target: Target, timeout_s: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout_s)
    return _PinnedHTTPConnection(target, timeout_s)


@cache
def _tls_context() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover (certifi comes with requests)
        return ssl.create_default_context()

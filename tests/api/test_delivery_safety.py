"""Deliveries cannot be turned against eta or others: the address that passed the check is the one
connected to (DNS rebinding), answers are read with a byte cap and a total deadline, one slow endpoint
does not hold up the others, and a caller learns nothing from a target beyond "failing"."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eta.clock import ManualClock
from tests.api.helpers import add_prediction, alert_cycle, berlin, fresh_munich_call
from tests.api.test_subscriptions import SUBSCRIBE, request_body
from tests.api.webhook_receiver import RawServer, Receiver, raw_server, webhook_receiver

REBINDING_HOST = "hooks.rebinding.test"
PUBLIC_STAND_IN = "127.0.0.2"  # declared public for these tests (ETA_ALERTS__ALLOWED_TARGET_NETWORKS)


class Resolver:
    """DNS for one name, as a rebinding attacker runs it: the first look-up answers ``first``, every later
    one ``later``. Other names resolve as usual."""

    def __init__(self, real: Callable[..., Any], first: str, later: str) -> None:
        self.real, self.first, self.later = real, first, later
        self.lookups = 0

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBINDING_HOST:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = self.first if self.lookups == 1 else self.later
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]


@contextlib.contextmanager
def two_receivers_on_one_port() -> Iterator[tuple[Receiver, Receiver]]:
    """A "public" receiver on 127.0.0.2 and an internal one on 127.0.0.1, on the same port."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((PUBLIC_STAND_IN, 0))
            port = probe.getsockname()[1]
        try:
            with (
                webhook_receiver(PUBLIC_STAND_IN, port) as public,
                webhook_receiver("127.0.0.1", port) as inner,
            ):
                yield public, inner
                return
        except OSError:
            continue
    raise RuntimeError("no port free on both loopback addresses")


def _queue_change(
    client: TestClient, clock: ManualClock, call: Any, at: tuple[str, str], delay_s: int
) -> None:
    """Two agreeing updates ``delay_s`` late: one arrival change per subscription (after a baseline)."""
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    for time_of_day in at:
        clock.now = berlin(f"2026-05-04 {time_of_day}")
        add_prediction(engine, call, clock.now, delay_s)
    alert_cycle(client).find_changes(clock.now)


def _baseline(client: TestClient, clock: ManualClock, call: Any) -> None:
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    clock.now = berlin("2026-05-04 17:35")
    add_prediction(engine, call, clock.now, 0)
    alert_cycle(client).find_changes(clock.now)


def test_a_rebinding_name_reaches_only_the_address_that_was_checked(
    seeded_url: str,
    clock: ManualClock,
    make_client: Callable[..., TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with two_receivers_on_one_port() as (public, internal):
        port = int(public.url.split(":")[2].split("/")[0])
        client = make_client(
            seeded_url,
            clock,
            alerts={
                "allow_private_targets": False,
                "allowed_target_networks": [f"{PUBLIC_STAND_IN}/32"],
                "allowed_ports": [port],
            },
        )
        call = fresh_munich_call(client.app.state.eta.engine)  # type: ignore[attr-defined]
        resolver = Resolver(socket.getaddrinfo, first=PUBLIC_STAND_IN, later=PUBLIC_STAND_IN)
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        clock.now = berlin("2026-05-04 17:30")
        url = f"http://{REBINDING_HOST}:{port}/hooks/eta?k=1"
        created = client.post(SUBSCRIBE, json=request_body(url, travel_time_s=None))
        assert created.status_code == 201, created.text
        sub = created.json()
        _baseline(client, clock, call)
        _queue_change(client, clock, call, ("17:40", "17:45"), 900)

        # each delivery: the name answers the checked address once, then the internal one
        resolver.lookups, resolver.later = 0, "127.0.0.1"
        assert alert_cycle(client).deliver_due() == (1, 0, 0, 0)
        assert internal.received == []
        (message,) = public.received
        assert message.headers["host"] == f"{REBINDING_HOST}:{port}"  # the name, not the address
        assert message.path == "/hooks/eta?k=1"

        # a delivery whose one look-up answers the internal address is refused, and never sent
        resolver.lookups = 1
        _queue_change(client, clock, call, ("17:50", "17:55"), 1800)
        assert alert_cycle(client).deliver_due() == (0, 0, 0, 1)
        assert internal.received == [] and len(public.received) == 1

        info = client.get(f"{SUBSCRIBE}/{sub['id']}", headers={"Authorization": f"Bearer {sub['token']}"})
        assert info.json()["active"] is False
        assert info.json()["disabled_reason"] == "failing"  # nothing about what the target did
        assert "127.0.0.1" not in info.text and "private" not in info.text


@pytest.fixture
def call_and_client(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> tuple[Any, TestClient]:
    client = make_client(seeded_url, clock, alerts={"webhook_timeout_s": 1.0})
    return fresh_munich_call(client.app.state.eta.engine), client  # type: ignore[attr-defined]


def _subscribe(client: TestClient, clock: ManualClock, url: str) -> None:
    clock.now = berlin("2026-05-04 17:30")
    response = client.post(SUBSCRIBE, json=request_body(url, travel_time_s=None))
    assert response.status_code == 201, response.text


def _huge_answer(conn: socket.socket, server: RawServer) -> None:
    size = 300 * 2**20
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * 2**16
    while server.bytes_sent < size:
        conn.sendall(chunk)
        server.bytes_sent += len(chunk)


def test_an_endless_answer_is_read_only_up_to_the_cap(
    call_and_client: tuple[Any, TestClient], clock: ManualClock
) -> None:
    call, client = call_and_client
    with raw_server(_huge_answer) as server:
        _subscribe(client, clock, f"http://127.0.0.1:{server.port}/hook")
        _baseline(client, clock, call)
        _queue_change(client, clock, call, ("17:40", "17:45"), 900)
        assert alert_cycle(client).deliver_due() == (1, 0, 0, 0)
        assert server.done.wait(10)
    assert len(server.requests) == 1
    # what the kernel's socket buffers took before eta hung up; the whole answer would be 300 MiB
    assert server.bytes_sent < 32 * 2**20


def _drip(where: str, seconds: float) -> Callable[[socket.socket, RawServer], None]:
    def respond(conn: socket.socket, server: RawServer) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        if where == "body":
            conn.sendall(head)
            head = b"x" * 1000
        end = time.monotonic() + seconds
        for byte in head:
            if time.monotonic() > end:
                return
            conn.sendall(bytes([byte]))
            server.bytes_sent += 1
            time.sleep(0.1)

    return respond


@pytest.mark.parametrize(("where", "delivered"), [("head", (0, 1, 0, 0)), ("body", (1, 0, 0, 0))])
def test_a_dripping_answer_ends_at_the_deadline(
    call_and_client: tuple[Any, TestClient], clock: ManualClock, where: str, delivered: tuple[int, ...]
) -> None:
    call, client = call_and_client
    with raw_server(_drip(where, seconds=8)) as server:
        _subscribe(client, clock, f"http://127.0.0.1:{server.port}/hook")
        _baseline(client, clock, call)
        _queue_change(client, clock, call, ("17:40", "17:45"), 900)
        start = time.monotonic()
        assert alert_cycle(client).deliver_due() == delivered  # a status line that never ends is a failure
        elapsed = time.monotonic() - start
        assert elapsed < 4, f"one delivery took {elapsed:.1f} s with a 1 s deadline"


def test_a_slow_endpoint_does_not_hold_up_the_others(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    # The slow endpoint drips for longer than the deadline; were deliveries sent one after another, the fast
    # one would wait for that whole deadline. No wall-clock budget beyond the deadline itself: the check must
    # hold on a loaded machine too.
    deadline_s = 6.0
    client = make_client(seeded_url, clock, alerts={"webhook_timeout_s": deadline_s})
    call = fresh_munich_call(client.app.state.eta.engine)  # type: ignore[attr-defined]
    with raw_server(_drip("head", seconds=deadline_s + 4)) as slow, webhook_receiver() as fast:
        _subscribe(client, clock, f"http://127.0.0.1:{slow.port}/hook")  # first: delivered first in order
        _subscribe(client, clock, fast.url)
        _baseline(client, clock, call)
        _queue_change(client, clock, call, ("17:40", "17:45"), 900)
        start = time.monotonic()
        cycle = threading.Thread(target=alert_cycle(client).deliver_due)
        cycle.start()
        while not fast.received and time.monotonic() - start < 2 * deadline_s:
            time.sleep(0.02)
        fast_after = time.monotonic() - start
        cycle.join(timeout=3 * deadline_s)
    assert fast.received, "the fast endpoint got nothing"
    assert slow.requests, "the slow endpoint was never reached"
    assert fast_after < deadline_s, f"the fast endpoint waited {fast_after:.1f} s, the slow one's deadline"

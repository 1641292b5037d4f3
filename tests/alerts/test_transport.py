"""The delivery transport: which addresses and ports pass, and HTTPS to a pinned address keeping the name
for Host, SNI and the certificate check (a real TLS server on loopback)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eta.alerts import transport
from eta.alerts.transport import DeliveryError, Target, TargetPolicy
from eta.config import AlertsSettings
from eta.errors import InputError

STRICT = TargetPolicy.from_settings(AlertsSettings())


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("64:ff9b::5db8:d70e", None),  # NAT64 of a public address
        ("2002:5db8:d70e::1", None),  # 6to4 of a public address
        ("::ffff:93.184.215.14", None),
        ("127.0.0.1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("169.254.169.254", "private"),
        ("224.0.0.1", "private"),
        ("::1", "private"),
        ("fe80::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "IPv6 form"),
        ("64:ff9b:1::5db8:d70e", "IPv6 form"),
        ("2002:c0a8:1::1", "IPv6 form"),
        ("::7f00:1", "IPv6 form"),
    ],
)
def test_which_addresses_a_delivery_may_connect_to(address: str, why: str | None) -> None:
    found = transport.refusal(ipaddress.ip_address(address), STRICT)
    assert (found is None) if why is None else (why in str(found))


def test_ports_and_allowed_networks_come_from_the_settings() -> None:
    with pytest.raises(InputError, match="port must be one of 443"):
        transport.check_url("https://93.184.215.14:8443/hook", STRICT)
    with pytest.raises(InputError, match="port must be one of 443"):
        transport.check_url("https://93.184.215.14:80/hook", STRICT)
    plain = TargetPolicy.from_settings(AlertsSettings(allow_plain_http=True))
    transport.check_url("http://93.184.215.14/hook", plain)
    listed = TargetPolicy.from_settings(
        AlertsSettings(allowed_ports=[8443], allowed_target_networks=["10.20.0.0/16"])
    )
    transport.check_url("https://93.184.215.14:8443/hook", listed)
    with pytest.raises(InputError, match="port must be one of 8443"):
        transport.check_url("https://93.184.215.14/hook", listed)
    assert transport.refusal(ipaddress.ip_address("10.20.3.4"), listed) is None
    assert transport.refusal(ipaddress.ip_address("10.21.3.4"), listed) is not None


def test_a_name_is_refused_if_any_of_its_addresses_is() -> None:
    def resolver(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    parts = transport.check_url("https://mixed.example/hook", STRICT)
    with pytest.raises(InputError, match="private, loopback"):
        transport.resolve(parts, STRICT, timeout_s=1, resolver=resolver)


def _certificate(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """HTTPS on 127.0.0.1 answering 204; records the SNI name and the Host header it was sent."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: dict[str, str] = {}

    def sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen["sni"] = name or ""

    context.sni_callback = sni  # type: ignore[assignment]
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += tls.recv(4096)
                head, body = data.split(b"\r\n\r\n", 1)
                headers = dict(line.split(":", 1) for line in head.decode().split("\r\n")[1:])
                headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
                seen["host"] = headers["host"]
                while len(body) < int(headers.get("content-length", "0")):  # all of it: no reset
                    body += tls.recv(4096)
                tls.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize("certified_name", ["hooks.example.test", "elsewhere.example.test"])
def test_https_to_the_pinned_address_keeps_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certified_name: str
) -> None:
    cert, key = _certificate(certified_name, tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(transport, "_tls_context", lambda: trusting)
    with tls_server(cert, key) as (port, seen):
        target = Target(
            url=f"https://hooks.example.test:{port}/hook",
            scheme="https",
            host="hooks.example.test",
            port=port,
            path="/hook?x=1",
            address="127.0.0.1",
        )
        if certified_name != "hooks.example.test":  # the certificate must be the name's, not the address's
            with pytest.raises(DeliveryError):
                transport.post(target, b"{}", {}, deadline_s=3, max_response_bytes=100)
            return
        reply = transport.post(target, b"{}", {}, deadline_s=3, max_response_bytes=100)
    assert reply.status_code == 204
    assert seen == {"sni": "hooks.example.test", "host": f"hooks.example.test:{port}"}

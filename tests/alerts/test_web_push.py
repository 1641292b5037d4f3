"""Web Push keys: the browser's keys are checked, VAPID keys made and their public half derived."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eta.alerts import web_push
from eta.errors import InputError


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, str, bytes, str]:
    """What a browser's PushSubscription holds: its private key stays there; p256dh and auth are sent."""
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = bytes(range(16))
    return private, web_push.b64url(point), auth, web_push.b64url(auth)


def test_a_browsers_keys_pass_and_anything_else_is_refused() -> None:
    _, p256dh, _, auth = browser_keys()
    web_push.check_keys(p256dh, auth)
    with pytest.raises(InputError, match="auth must be 16 bytes"):
        web_push.check_keys(p256dh, web_push.b64url(b"x" * 8))
    with pytest.raises(InputError, match="not a P-256 public key"):
        web_push.check_keys(web_push.b64url(b"\x04" + b"\x01" * 64), auth)  # not on the curve
    with pytest.raises(InputError, match="base64url"):
        web_push.check_keys("not base64!", auth)


def test_the_public_key_is_the_private_keys_own_point() -> None:
    private = web_push.new_private_key()
    assert len(web_push.b64url_decode(private)) == 32
    point = web_push.b64url_decode(web_push.public_key(private))
    scalar = int.from_bytes(web_push.b64url_decode(private), "big")
    expected = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
    assert point == expected.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert web_push.public_key(private) != web_push.public_key(web_push.new_private_key())
    with pytest.raises(InputError, match="VAPID_PRIVATE_KEY"):
        web_push.public_key("%%%")

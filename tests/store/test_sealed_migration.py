"""Migration 0013 seals what subscriptions made before it kept in clear, and notes each target's host."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, Table, insert, select, text

from eta.alerts.sealed import Sealer
from eta.config import Settings
from eta.store.engine import make_engine
from eta.store.migrate import upgrade

URL = "https://Hooks.Example.org/eta/T0123/s3cret?token=abc"


def test_existing_subscriptions_are_sealed(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=store_url, data_dir=tmp_path / "var")
    engine = make_engine(store_url)
    upgrade(engine, "0012", settings=settings)
    now = datetime(2026, 5, 4, 17, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO services (id, mode, operator, number, service_date, leg, source) "
                "VALUES (1, 'train', 'ICE', '1', '2026-05-04', '', 'test')"
            )
        )
        conn.execute(text("INSERT INTO calls (id, service_id, sequence, location) VALUES (1, 1, 1, 'X')"))
        subscriptions = Table("subscriptions", MetaData(), autoload_with=conn)
        common = {
            "token_hash": "0" * 64,
            "call_id": 1,
            "watch_platform": True,
            "consent_at": now,
            "created_at": now,
            "expires_at": now,
            "arrival_streak": 0,
            "platform_streak": 0,
            "leave_streak": 0,
            "push_p256dh": None,
            "push_auth": None,
        }
        conn.execute(
            insert(subscriptions),
            [
                common | {"id": "sub_hook", "target_url": URL, "secret": "whsec_clear", "channel": "webhook"},
                common
                | {
                    "id": "sub_push",
                    "target_url": "https://fcm.googleapis.com/fcm/send/abc",
                    "secret": "whsec_unused",
                    "channel": "web_push",
                    "push_p256dh": "B" * 87,
                    "push_auth": "A" * 22,
                },
            ],
        )
    upgrade(engine, settings=settings)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(Table("subscriptions", MetaData(), autoload_with=conn)))}
    engine.dispose()
    sealer = Sealer.from_settings(settings)
    hook, push = rows["sub_hook"], rows["sub_push"]
    assert (hook.target_host, push.target_host) == ("hooks.example.org", "fcm.googleapis.com")
    assert "s3cret" not in str(hook) and "whsec_clear" not in str(hook) and "B" * 87 not in str(push)
    assert sealer.unseal(hook.target_url) == URL and sealer.unseal(hook.secret) == "whsec_clear"
    assert (sealer.unseal(push.push_p256dh), sealer.unseal(push.push_auth)) == ("B" * 87, "A" * 22)

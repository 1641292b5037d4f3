"""wider trip numbers, categories and platform names

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 16:00:00

Real feeds do not fit 16 characters: GTFS-Realtime trip ids outside gtfs.de (the service ``number``) run
to 40 and more, IRIS platform names such as "Gleis 11 A-D Nord" past 16 (issue 21 §3). PostgreSQL
refused them in the bulk write and every run crashed on the same archived batch; SQLite stored them.

PostgreSQL widens the columns in place (a catalogue change, no table rewrite). SQLite does not enforce
the lengths; its declared types are rewritten in the schema text (same TEXT affinity, same file
content) rather than by recreating ``calls``, whose drop would cascade to every observation
(``eta.store.migrations.widen``, shared with 0022; on the schema 0001-0020 leave it rewrites exactly what
this migration's own copy did, and refuses instead of skipping a declaration it does not find).
"""

from __future__ import annotations

from eta.store.migrations.widen import narrow, widen

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

WIDER = (  # table, column, before, after
    ("services", "operator", 16, 32),
    ("services", "number", 16, 128),
    ("services", "leg", 16, 32),
    ("services", "category", 16, 32),
    ("calls", "planned_platform", 16, 32),
    ("observations", "platform", 16, 32),
    ("observations", "terminal", 16, 32),
    ("predictions", "platform", 16, 32),
    ("subscriptions", "notified_platform", 16, 32),
    ("subscriptions", "platform_candidate", 16, 32),
)


def upgrade() -> None:
    widen(WIDER)


def downgrade() -> None:
    narrow(WIDER)

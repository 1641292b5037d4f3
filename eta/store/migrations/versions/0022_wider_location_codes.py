"""wider location codes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 19:00:00

A GTFS feed's stop ids are unique only within it, so a named GTFS instance stores its stations as
``<instance>:<stop_id>`` (two operators' feeds naming different stations by one stop id were one location
and one board). Instance names and stop ids together run past 32 characters: every column holding a
location code goes to 128, as the service number holding ``<instance>:<trip_id>`` did in 0021.

As in 0021 (``eta.store.migrations.widen``), PostgreSQL widens the columns in place (a catalogue change:
no table rewrite, no index rebuild); SQLite does not enforce lengths, and its declared types are rewritten
in the schema text (same TEXT affinity, same file content) rather than by recreating ``calls``, whose drop
would cascade to every observation. A downgrade fails on PostgreSQL while a longer code is stored.
"""

from __future__ import annotations

from eta.store.migrations.widen import narrow, widen

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

WIDER = (  # table, column, before, after
    ("locations", "code", 32, 128),
    ("services", "origin", 32, 128),
    ("services", "destination", 32, 128),
    ("calls", "location", 32, 128),
    ("weather", "location", 32, 128),
    ("accuracy_daily", "location", 32, 128),
)


def upgrade() -> None:
    widen(WIDER)


def downgrade() -> None:
    narrow(WIDER)

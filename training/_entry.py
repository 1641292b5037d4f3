"""Shared by the entry points: run ``eta`` with fixed arguments, plus any given on the command line."""

from __future__ import annotations

import sys

from eta.cli import main


def run(arguments: list[str]) -> None:
    sys.argv = ["eta", *arguments, *sys.argv[1:]]
    main()

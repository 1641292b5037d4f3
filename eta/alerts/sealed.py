"""What alerts keep that would let someone else send in a subscriber's name, encrypted at rest: webhook
URLs (often capability URLs), their signing secrets, and browsers' Web Push endpoints and keys.

Fernet (AES-128-CBC with HMAC-SHA256) under the server key ``ETA_ALERTS__SECRETS_KEY``. Several keys,
separated by commas, rotate it: the first one encrypts, every one decrypts. Unset, a key is made once and
kept in ``<data_dir>/alerts-secrets.key`` (mode 600): set the setting wherever several hosts share one
store, or the others cannot read what one of them wrote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from eta.config import Settings
from eta.errors import EtaError

PREFIX = "enc1:"
KEY_FILE = "alerts-secrets.key"
log = logging.getLogger("eta.alerts")


class SealError(EtaError):
    """A stored secret cannot be read with the configured key(s)."""


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError:
            raise SealError(
                "ETA_ALERTS__SECRETS_KEY must be Fernet keys (32 bytes, base64url; "
                "`eta alerts secrets-key` makes one), separated by commas"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        configured = settings.alerts.secrets_key
        if configured is not None:
            return _sealer(configured.get_secret_value(), None)
        return _sealer(None, str(settings.data_dir.resolve()))

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def unseal(self, value: str) -> str:
        if not value.startswith(PREFIX):
            raise SealError("a stored alert secret is not sealed (the store was not migrated)")
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealError(
                "a stored alert secret cannot be decrypted with ETA_ALERTS__SECRETS_KEY "
                "(a key changed without keeping the old one in the list?)"
            ) from None

    def seal_optional(self, text: str | None) -> str | None:
        return None if text is None else self.seal(text)

    def unseal_optional(self, value: str | None) -> str | None:
        return None if value is None else self.unseal(value)


def new_key() -> str:
    return Fernet.generate_key().decode()


@lru_cache(maxsize=8)
def _sealer(configured: str | None, data_dir: str | None) -> Sealer:
    if configured is not None:
        return Sealer(configured.split(","))
    return Sealer([_key_file(Path(str(data_dir)))])


def _key_file(data_dir: Path) -> str:
    """The key kept in the data directory, made the first time (by one process, if several race)."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key() + "\n")
        log.warning(
            "made a key for alert secrets in %s; set ETA_ALERTS__SECRETS_KEY where several hosts share "
            "the store",
            path,
        )
    for _ in range(50):  # another process may be writing it this very moment
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        time.sleep(0.01)
    raise SealError(f"{path} is empty; delete it or set ETA_ALERTS__SECRETS_KEY")

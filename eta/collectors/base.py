"""What every collector shares: requests, payloads, rows, the adapter interface and the error kinds.

An adapter is ``fetch`` (the only I/O, through the injected ``requests.Session``) plus ``parse`` (pure:
a :class:`Payload` in, :class:`Rows` out). The shared runner (:mod:`eta.collectors.runner`) decides
when to fetch, retries, archives, parses, resolves references and writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from requests import Session

    from eta.collectors.kind import SourceSettings
    from eta.config import HttpSettings

Row = dict[str, object]

# Error kinds: a small fixed vocabulary, so metrics labels stay low-cardinality.
FETCH_ERROR_KINDS = (
    "timeout",
    "connection",
    "truncated",
    "http_429",
    "http_5xx",
    "http_4xx",
    "too_large",
    "redirect",
)
PAYLOAD_ERROR_KINDS = ("empty", "content_type", "parse", "parser_crash")
STORE_ERROR_KINDS = ("store_locked", "store")


@dataclass(frozen=True)
class Request:
    """One thing to fetch: a kind (``plan``, ``fchg``, ``flights``…) and its parameters."""

    kind: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, kind: str, **params: object) -> Request:
        return cls(kind, tuple(sorted((k, str(v)) for k, v in params.items())))

    def param(self, name: str) -> str:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"request {self.kind} has no parameter {name!r}")

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class Payload:
    """A fetched (or replayed) response body with the time eta received it and where it is archived."""

    source: str
    request: Request
    fetched_at: datetime
    body: bytes
    content_type: str | None
    ref: str


@dataclass
class Rows:
    """Rows for the store by table. Observation rows may name their call by a source's own id
    (``ref_source``, ``ref``) instead of ``call_id``; the runner resolves it through ``call_refs``."""

    tables: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, rows: Iterable[Row]) -> None:
        self.tables[table].extend(rows)

    def extend(self, other: Rows) -> None:
        for table, rows in other.tables.items():
            self.tables[table].extend(rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def retag(self, old: str, new: str) -> None:
        """Rows of source ``old`` (and observations naming their call by an ``old`` id) become ``new``'s."""
        for rows in self.tables.values():
            for row in rows:
                for key in ("source", "ref_source"):
                    if row.get(key) == old:
                        row[key] = new


@dataclass(frozen=True)
class Received:
    """One message a push source delivered: what it is (a request-like kind), its body, when it came."""

    request: Request
    body: bytes
    received_at: datetime
    content_type: str | None = None


class FetchError(Exception):
    """A fetch that did not yield a payload; ``retry_after_s`` when the server said when to come back."""

    def __init__(self, kind: str, message: str, retry_after_s: float | None = None, retryable: bool = True):
        super().__init__(message)
        self.kind = kind
        self.retry_after_s = retry_after_s
        self.retryable = retryable


class PayloadError(ValueError):
    """A payload eta cannot use: it is archived, quarantined and counted; the batch goes on."""

    def __init__(self, message: str, kind: str = "parse"):
        super().__init__(message)
        self.kind = kind


class StoreView(Protocol):
    """What an adapter may ask about its own history when it plans the next requests."""

    def parsed_since(self, kind: str, since: datetime) -> list[tuple[datetime, dict[str, str]]]:
        """(fetched_at, params) of this source's payloads of ``kind`` parsed since ``since``."""
        ...


SettingsT = TypeVar("SettingsT", bound="SourceSettings")


class Adapter(ABC, Generic[SettingsT]):
    r"""One source: subclasses set the class attributes and implement the abstract methods.

    An instance is one configured collector (:mod:`eta.collectors.registry`): ``name`` is the instance's
    (settings, metrics, ``collector_state``), ``source`` names its archive and its rows
    (``observations.source``, ``call_refs.source``, ``weather.source``). A push source (``push``) is not
    asked for ``requests``: the runner takes what it :meth:`receive`\ d since the last run."""

    name: str  # collector name; the kind's name for its default instance
    source: str  # raw archive folder, observations.source / call_refs.source / weather.source
    content_types: ClassVar[tuple[str, ...]]  # accepted Content-Type prefixes
    extension: ClassVar[str] = "bin"  # of archived payloads
    push: ClassVar[bool] = False
    max_pages: int = 1  # pages read per request (see :meth:`next_page`)
    rows_source: str | None = None  # the source parse() writes, when this instance renamed it

    def __init__(self, config: SettingsT) -> None:
        self.config = config  # the instance's settings (its secrets are masked in messages)
        self.interval_s = config.interval_s

    def named(self, name: str) -> Self:
        """This adapter as the instance ``name``. An instance other than the kind's default keeps its
        state, archive and rows under its own name, so that two feeds of one kind (two operators'
        GTFS-Realtime trip ids, say) never mix."""
        if name != self.name:
            self.rows_source = self.source
            self.name = self.source = name
        return self

    def receive(self, clock: Callable[[], datetime], max_payload_bytes: int) -> list[Received]:
        """Push sources: the messages delivered since the last call, each stamped with ``clock()`` when
        taken from the feed. Raise :class:`FetchError` when the feed cannot be read or fell silent."""
        raise NotImplementedError(f"{self.name} is polled, not pushed")

    def close(self) -> None:
        """Release what the adapter holds open (a push subscription); most hold nothing."""

    @abstractmethod
    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        """What to fetch in the run starting at ``now`` (in order: a plan before its changes)."""

    @abstractmethod
    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        """URL and query parameters of ``request``."""

    def headers(self) -> dict[str, str]:
        return {}

    def auth(self) -> tuple[str, str] | None:
        return None

    def fetch(self, session: Session, request: Request, http: HttpSettings) -> Response:
        """The only I/O: one HTTP GET, classified into :class:`FetchError` kinds."""
        from eta.collectors.http import get

        url, params = self.url(request)
        return get(session, url, params=params, headers=self.headers(), auth=self.auth(), http=http)

    def next_page(self, request: Request, body: bytes) -> Request | None:
        """Pure: the request for the page after ``request``, read from its response ``body``; None when it
        was the last page or the source is not paged (the default). The runner follows pages up to
        :attr:`max_pages`, each through the same fetch, retries and archive as the first."""
        return None

    @abstractmethod
    def parse(self, payload: Payload) -> Rows:
        """Pure: the payload's rows. Raise :class:`PayloadError` for a payload that cannot be used."""

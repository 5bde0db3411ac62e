"""The three pagination styles, as plain objects the sync and async clients both walk.

Each one answers three questions: the first page's query, the items in a page body, and the query
of the next page (None when done). They never do I/O themselves.
"""

from __future__ import annotations

import logging
from itertools import repeat
from typing import Any, Mapping, Protocol

from airflow_provider_monitoring._http.errors import UnexpectedResponseError, excerpt, not_json

log = logging.getLogger(__name__)


class Pages(Protocol):
    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]: ...

    def items(self, body: Any, path: str) -> list[Any]: ...

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None: ...


class FirstSighting:
    """True the first time an item's ``key`` is seen, False after. Listings that shift while they
    are walked (new runs push a newest-first list down) or that are fetched in overlapping windows
    show some items twice; this lets each through once. Items without the key always pass."""

    def __init__(self, key: str = "id"):
        self.key = key
        self._seen: set[Any] = set()

    def __call__(self, item: Any) -> bool:
        ident = item.get(self.key) if isinstance(item, dict) else None
        if ident is None or isinstance(ident, (dict, list)):
            return True
        if ident in self._seen:
            return False
        self._seen.add(ident)
        return True

    def fresh(self, items: list[dict]) -> list[dict]:
        """The items of a page not seen before, in order, as one call per item would let them through.

        The usual page (every id there, distinct, unseen, none null or a container) is let through
        whole by set operations, without a Python call per item: a page of 100 results costs a
        tenth of what asking item by item does.
        """
        ids = list(map(dict.get, items, repeat(self.key)))
        if UNCOUNTED_IDS.isdisjoint(map(type, ids)):
            distinct = set(ids)
            if len(distinct) == len(ids) and self._seen.isdisjoint(distinct):
                self._seen |= distinct
                return items
        return [item for item in items if self(item)]


# Ids that FirstSighting lets through every time without remembering them.
UNCOUNTED_IDS = frozenset({type(None), dict, list})


def items_of(body: Any, key: str, path: str, vendor: str) -> list[Any]:
    """The item list of a page: a bare JSON array, or the array under ``key`` (both are documented)."""
    if isinstance(body, dict):
        found = body.get(key)
        if found is None and key in body:  # an explicit null page: nothing in it
            return []
    else:
        found = body
    if isinstance(found, list):
        if not all(map(isinstance, found, repeat(dict))):
            raise UnexpectedResponseError(
                vendor=vendor, method="GET", path=path, status=200,
                vendor_message=f"expected every listed item to be an object; got {excerpt(found[:3])}", body=body,
            )
        return found
    if isinstance(body, dict):
        got = f"{key!r} = {excerpt(found)}" if key in body else f"keys {excerpt(sorted(body))}"
        raise UnexpectedResponseError(
            vendor=vendor, method="GET", path=path, status=200,
            vendor_message=f"expected a list or an object with a list under {key!r}; got {got}",
            body=body,
        )
    got = not_json(body) if body is None or isinstance(body, str) else f"got {excerpt(body)}"
    raise UnexpectedResponseError(
        vendor=vendor, method="GET", path=path, status=200,
        vendor_message=f"expected a list or an object with {key!r}; {got}", body=body,
    )


def _count(body: dict, key: str, path: str, vendor: str) -> int | None:
    """An optional integer count (``total``, ``total_pages``): None when absent, an error when it
    is there but not a whole number, since walking on a guess could stop early or never stop."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnexpectedResponseError(
            vendor=vendor, method="GET", path=path, status=200,
            vendor_message=f"expected an integer {key!r}, got {excerpt(value)}", body=body,
        )
    return value


# A ceiling no real listing reaches (a million items at 100 a page), so no walk runs unbounded.
MAX_PAGES = 10_000


class _Walk:
    """What every walk shares: one sighting filter, the raw length of the last page, a ceiling
    on the number of pages, and the rule that a page bringing nothing new ends the walk (a server
    that ignores the page, offset or cursor parameter would otherwise be asked forever)."""

    def __init__(self, key: str, vendor: str, unique_by: str, max_pages: int = MAX_PAGES):
        self.key, self.vendor, self.max_pages = key, vendor, max_pages
        self._first_sighting = FirstSighting(unique_by)
        self._raw_len = 0
        self._fresh_len = 0
        self._pages = 0
        self._path = ""

    def items(self, body: Any, path: str) -> list[Any]:
        self._path = path
        self._pages += 1
        if self._pages > self.max_pages:
            raise UnexpectedResponseError(
                vendor=self.vendor, method="GET", path=path, status=200,
                vendor_message=f"the listing did not end after {self.max_pages} pages: every page pointed to "
                "a next one with new items; stopped there rather than walk on for ever",
            )
        page = items_of(body, self.key, path, self.vendor)
        fresh = self._first_sighting.fresh(page)
        self._raw_len, self._fresh_len = len(page), len(fresh)
        return fresh

    def _exhausted(self) -> bool:
        if self._raw_len and not self._fresh_len:
            log.warning(
                "%s API GET %s: page %d brought only items already seen; the walk ends there",
                self.vendor, self._path, self._pages,
            )
        return self._raw_len == 0 or self._fresh_len == 0


class OffsetPages(_Walk):
    """``limit``/``offset`` with a ``total`` count (Encrata).

    Stops at the total, on a short page, or on a page with nothing new. A bare array (documented
    for run results on the ``/api`` family) is followed by offset too while it comes back full,
    so a paged bare array is not cut at its first page.
    """

    def __init__(self, key: str, vendor: str, limit: int = 100, unique_by: str = "id"):
        super().__init__(key, vendor, unique_by)
        self.limit = limit

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "limit": self.limit, "offset": 0}

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        total = _count(body, "total", self._path, self.vendor) if isinstance(body, dict) else None
        offset = int(query["offset"]) + self._raw_len
        if self._exhausted():
            return None
        if total is None and self._raw_len != self.limit:
            # Short: the last page. Longer than asked: the server ignores limit and sent all.
            return None
        if total is not None and total > 0 and offset >= total:
            return None
        return {**query, "offset": offset}


class PageNumberPages(_Walk):
    """``page``/``page_size`` with ``total_pages`` (Datafold); pages count from 1. Like offsets,
    page numbers shift under a growing newest-first listing, so items are let through once."""

    def __init__(self, key: str, vendor: str, page_size: int = 100, unique_by: str = "id"):
        super().__init__(key, vendor, unique_by)
        self.page_size = page_size

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "page": 1, "page_size": self.page_size}

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        if self._exhausted() or not isinstance(body, dict):
            return None
        page = int(query["page"])
        total_pages = _count(body, "total_pages", self._path, self.vendor)
        if total_pages is not None and page >= total_pages:
            return None
        return {**query, "page": page + 1}


class CursorPages(_Walk):
    """``page_size`` plus an opaque ``next_token`` sent back unchanged (Diligent).

    Filters are repeated with every token (the notes leave open whether the vendor needs them; a
    repeat is harmless). A bare array is a single page. Stops without a token, on a token seen
    before, on a page with nothing new (a fresh token for the same items), or at the ceiling.
    """

    def __init__(self, key: str, vendor: str, page_size: int = 100, unique_by: str = "id",
                 max_pages: int = MAX_PAGES):
        super().__init__(key, vendor, unique_by, max_pages)
        self.page_size = page_size
        self._tokens: set[str] = set()

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "page_size": self.page_size}

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        token = body.get("next_token") if isinstance(body, dict) else None
        # A cursor that comes back a second time would loop forever.
        if not token or token in self._tokens or self._exhausted():
            return None
        self._tokens.add(token)
        return {**query, "next_token": token}

"""The three pagination styles, as plain objects the sync and async clients both walk.

Each one answers three questions: the first page's query, the items in a page body, and the query
of the next page (None when done). They never do I/O themselves.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

from airflow_provider_monitoring._http.errors import UnexpectedResponseError


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


def items_of(body: Any, key: str, path: str, vendor: str) -> list[Any]:
    """The item list of a page: a bare JSON array, or the array under ``key`` (both are documented)."""
    if isinstance(body, dict):
        found = body.get(key)
        if found is None and key in body:  # an explicit null page: nothing in it
            return []
    else:
        found = body
    if isinstance(found, list):
        if not all(isinstance(item, dict) for item in found):
            raise UnexpectedResponseError(
                vendor=vendor, method="GET", path=path, status=200,
                vendor_message=f"expected every listed item to be an object; got {found[:3]!r}", body=body,
            )
        return found
    if isinstance(body, dict):
        got = f"{key!r} = {found!r}" if key in body else f"keys {sorted(body)}"
        raise UnexpectedResponseError(
            vendor=vendor, method="GET", path=path, status=200,
            vendor_message=f"expected a list or an object with a list under {key!r}; got {got}",
            body=body,
        )
    raise UnexpectedResponseError(
        vendor=vendor, method="GET", path=path, status=200,
        vendor_message=f"expected a list or an object with {key!r}; got {type(body).__name__}", body=body,
    )


class OffsetPages:
    """``limit``/``offset`` with a ``total`` count (Encrata).

    Stops at the total, on a short or empty page, or on a bare array (one page, no total). New runs
    arriving while we walk shift a newest-first listing by one, so items already yielded are
    skipped by id instead of appearing twice.
    """

    def __init__(self, key: str, vendor: str, limit: int = 100, unique_by: str = "id"):
        self.key, self.vendor, self.limit = key, vendor, limit
        self._first_sighting = FirstSighting(unique_by)

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "limit": self.limit, "offset": 0}

    def items(self, body: Any, path: str) -> list[Any]:
        return [item for item in items_of(body, self.key, path, self.vendor) if self._first_sighting(item)]

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            return None
        page_len = len(body.get(self.key) or [])
        offset = int(query["offset"]) + page_len
        total = body.get("total")
        if page_len == 0 or page_len < self.limit and not isinstance(total, int):
            return None
        if isinstance(total, int) and total > 0 and offset >= total:
            return None
        return {**query, "offset": offset}


class PageNumberPages:
    """``page``/``page_size`` with ``total_pages`` (Datafold); pages count from 1. Like offsets,
    page numbers shift under a growing newest-first listing, so items are let through once."""

    def __init__(self, key: str, vendor: str, page_size: int = 100, unique_by: str = "id"):
        self.key, self.vendor, self.page_size = key, vendor, page_size
        self._first_sighting = FirstSighting(unique_by)
        self._last_page_len = 0

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "page": 1, "page_size": self.page_size}

    def items(self, body: Any, path: str) -> list[Any]:
        page = items_of(body, self.key, path, self.vendor)
        self._last_page_len = len(page)
        return [item for item in page if self._first_sighting(item)]

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        if not self._last_page_len or not isinstance(body, dict):
            return None
        page = int(query["page"])
        total_pages = body.get("total_pages")
        if isinstance(total_pages, int) and page >= total_pages:
            return None
        return {**query, "page": page + 1}


class CursorPages:
    """``page_size`` plus an opaque ``next_token`` sent back unchanged (Diligent).

    Filters are repeated with every token (the notes leave open whether the vendor needs them; a
    repeat is harmless). A bare array is a single page.
    """

    def __init__(self, key: str, vendor: str, page_size: int = 100):
        self.key, self.vendor, self.page_size = key, vendor, page_size
        self._tokens: set[str] = set()

    def first(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**(params or {}), "page_size": self.page_size}

    def items(self, body: Any, path: str) -> list[Any]:
        return items_of(body, self.key, path, self.vendor)

    def next(self, query: dict[str, Any], body: Any, items: list[Any]) -> dict[str, Any] | None:
        token = body.get("next_token") if isinstance(body, dict) else None
        # A cursor that comes back a second time would loop forever.
        if not token or token in self._tokens:
            return None
        self._tokens.add(token)
        return {**query, "next_token": token}

"""The three page walkers, driven by both clients against a real server."""

from __future__ import annotations

from itertools import islice

import pytest

from airflow_provider_monitoring._http.client import AsyncClient, SyncClient
from airflow_provider_monitoring._http.errors import UnexpectedResponseError
from airflow_provider_monitoring._http.pagination import CursorPages, OffsetPages, PageNumberPages
from tests._http.test_client import settings
from tests.conftest import Reply

ITEMS = [{"id": f"i{n}"} for n in range(250)]


def offset_page(seen):
    offset, limit = int(seen.q("offset")), int(seen.q("limit"))
    return Reply(json={"runs": ITEMS[offset : offset + limit], "total": len(ITEMS)})


def number_page(seen):
    page, size = int(seen.q("page")), int(seen.q("page_size"))
    return Reply(json={"monitors": ITEMS[(page - 1) * size : page * size], "count": len(ITEMS),
                       "page": page, "page_size": size, "total_pages": -(-len(ITEMS) // size)})


def cursor_page(seen):
    start = int(seen.q("next_token") or 0)
    end = start + int(seen.q("page_size"))
    return Reply(json={"items": ITEMS[start:end], "next_token": str(end) if end < len(ITEMS) else None})


CASES = [
    (offset_page, lambda: OffsetPages("runs", "Acme"), [("offset", "0"), ("offset", "100"), ("offset", "200")]),
    (number_page, lambda: PageNumberPages("monitors", "Acme"), [("page", "1"), ("page", "2"), ("page", "3")]),
    (cursor_page, lambda: CursorPages("items", "Acme"), [("next_token", None), ("next_token", "100"), ("next_token", "200")]),
]


@pytest.mark.parametrize("responder, pages, expected", CASES)
def test_sync_walk_returns_every_item_once(api, responder, pages, expected):
    api.on("GET", "/list", responder)
    got = list(SyncClient(settings(api.url)).iter_pages("/list", pages(), {"type": "email"}))
    assert got == ITEMS
    assert [(name, s.q(name)) for (name, _), s in zip(expected, api.seen)] == expected
    assert len(api.seen) == 3 and all(s.q("type") == "email" for s in api.seen)


@pytest.mark.parametrize("responder, pages, expected", CASES)
async def test_async_walk_returns_every_item_once(api, responder, pages, expected):
    api.on("GET", "/list", responder)
    async with AsyncClient(settings(api.url)) as client:
        got = [item async for item in client.iter_pages("/list", pages())]
    assert got == ITEMS and len(api.seen) == 3


def test_offset_walk_skips_an_item_shifted_onto_the_next_page(api):
    # A run created during the walk pushes the newest-first list down by one.
    api.on("GET", "/list", {"runs": ITEMS[:100], "total": 150}, {"runs": ITEMS[99:150], "total": 151})
    got = list(SyncClient(settings(api.url)).iter_pages("/list", OffsetPages("runs", "Acme")))
    assert got == ITEMS[:150]


def test_bare_array_is_a_single_page(api):
    api.on("GET", "/list", Reply(json=ITEMS[:5]))
    for pages in (OffsetPages("runs", "Acme"), PageNumberPages("monitors", "Acme"), CursorPages("items", "Acme")):
        assert list(SyncClient(settings(api.url)).iter_pages("/list", pages)) == ITEMS[:5]
    assert len(api.seen) == 3


def test_a_repeated_cursor_ends_the_walk(api):
    api.on("GET", "/list", {"items": [{"id": 1}], "next_token": "same"})
    assert list(SyncClient(settings(api.url)).iter_pages("/list", CursorPages("items", "Acme"))) == [{"id": 1}]
    assert len(api.seen) == 2


def test_a_cursor_that_never_ends_stops_when_a_page_brings_nothing_new(api):
    # A fresh token every time, the same items every time.
    api.on("GET", "/list", lambda seen: Reply(json={"items": ITEMS[:3], "next_token": f"t{len(api.seen)}"}))
    walk = SyncClient(settings(api.url)).iter_pages("/list", CursorPages("items", "Acme"))
    assert list(islice(walk, 100)) == ITEMS[:3]
    assert len(api.seen) == 2


async def test_async_cursor_that_never_ends_stops_when_a_page_brings_nothing_new(api):
    api.on("GET", "/list", lambda seen: Reply(json={"items": ITEMS[:3], "next_token": f"t{len(api.seen)}"}))
    async with AsyncClient(settings(api.url)) as client:
        got = []
        async for item in client.iter_pages("/list", CursorPages("items", "Acme")):
            got.append(item)
            if len(got) >= 100:
                break
    assert got == ITEMS[:3] and len(api.seen) == 2


def test_a_cursor_walk_has_a_page_ceiling_with_a_clear_error(api):
    # Fresh items and a fresh token on every page: only the ceiling stops it.
    def endless(seen):
        n = len(api.seen)
        return Reply(json={"items": [{"id": f"p{n}"}], "next_token": f"t{n}"})

    api.on("GET", "/list", endless)
    with pytest.raises(UnexpectedResponseError) as info:
        list(SyncClient(settings(api.url)).iter_pages("/list", CursorPages("items", "Acme", max_pages=5)))
    message = str(info.value)
    assert "Acme API" in message and "GET /list" in message and "5 pages" in message
    assert len(api.seen) == 6


@pytest.mark.parametrize("page", [{"data": []}, {"items": "not a list"}, "plain text"])
def test_a_page_without_the_item_list_fails_closed(api, page):
    api.on("GET", "/list", Reply(json=page))
    with pytest.raises(UnexpectedResponseError, match="'items'"):
        list(SyncClient(settings(api.url)).iter_pages("/list", CursorPages("items", "Acme")))


def test_offset_walk_ends_when_the_server_ignores_offset(api):
    # No total and the same full page every time: the second page brings nothing new.
    api.on("GET", "/list", {"runs": ITEMS[:100]})
    got = list(SyncClient(settings(api.url)).iter_pages("/list", OffsetPages("runs", "Acme")))
    assert got == ITEMS[:100] and len(api.seen) == 2


def test_page_number_walk_ends_when_the_server_ignores_page(api):
    api.on("GET", "/list", {"monitors": ITEMS[:100]})
    got = list(SyncClient(settings(api.url)).iter_pages("/list", PageNumberPages("monitors", "Acme")))
    assert got == ITEMS[:100] and len(api.seen) == 2


def test_a_paged_bare_array_is_followed_past_its_first_page(api):
    api.on("GET", "/list", lambda seen: Reply(json=ITEMS[int(seen.q("offset")) : int(seen.q("offset")) + 100]))
    got = list(SyncClient(settings(api.url)).iter_pages("/list", OffsetPages("results", "Acme")))
    assert got == ITEMS
    assert [s.q("offset") for s in api.seen] == ["0", "100", "200"]


@pytest.mark.parametrize("pages, body", [
    (lambda: OffsetPages("runs", "Acme"), {"runs": ITEMS[:100], "total": "many"}),
    (lambda: PageNumberPages("monitors", "Acme"), {"monitors": ITEMS[:100], "total_pages": 2.5}),
])
def test_a_count_that_is_not_a_whole_number_fails_closed(api, pages, body):
    api.on("GET", "/list", body)
    with pytest.raises(UnexpectedResponseError, match="expected an integer"):
        list(SyncClient(settings(api.url)).iter_pages("/list", pages()))


def test_first_sighting_lets_a_page_through_as_item_by_item_would():
    from airflow_provider_monitoring._http.pagination import FirstSighting

    pages = [
        [{"id": "a"}, {"id": "b"}],  # all new: let through whole
        [{"id": "b"}, {"id": "c"}, {"id": "c"}],  # one seen before, one twice in the page
        [{"id": None}, {"x": 1}, {"id": {"nested": 1}}, {"id": "d"}],  # no usable id: always through
        [{"id": None}, {"x": 1}],
        [{"id": 1}, {"id": 1.0}, {"id": "e"}],  # equal ids of two types, as a set sees them
    ]
    one_at_a_time, by_page = FirstSighting(), FirstSighting()
    for page in pages:
        assert by_page.fresh(page) == [item for item in page if one_at_a_time(item)]

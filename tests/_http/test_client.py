"""The shared HTTP layer against a real server: what goes over the wire, retries, errors."""

from __future__ import annotations

import socket
import threading
import time
from email.utils import formatdate

import pytest

from airflow_provider_monitoring import __version__
from airflow_provider_monitoring._http.client import AsyncClient, SyncClient
from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from airflow_provider_monitoring._http.pagination import OffsetPages
from airflow_provider_monitoring._http.retry import Call, RetryPolicy, parse_retry_after
from airflow_provider_monitoring._http.settings import ApiSettings, VendorSpec
from airflow_provider_monitoring._vendors import DATAFOLD, DILIGENT, ENCRATA
from tests.conftest import API_KEY, Reply, closed_port_url

VENDOR = VendorSpec("Acme", "acme", "acme_default", "https://acme.example", "Authorization", "Bearer")


def settings(url: str, timeout: float = 5.0, max_retries: int = 3) -> ApiSettings:
    return ApiSettings(vendor=VENDOR, base_url=url, api_key=API_KEY, timeout=timeout, max_retries=max_retries)


# ---- what goes over the wire --------------------------------------------------------------------


def test_request_sends_auth_json_user_agent_and_query(api):
    api.on("POST", "/v1/things", Reply(201, json={"id": "t1"}))
    body = SyncClient(settings(api.url)).request(
        Call("POST", "/v1/things", params={"dry": True, "skip": None, "n": 3}, json={"name": "x"})
    )
    assert body == {"id": "t1"}
    [seen] = api.seen
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["User-Agent"] == f"airflow-provider-monitoring/{__version__}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept"] == "application/json"
    assert seen.query == {"dry": ["true"], "n": ["3"]}
    assert seen.json == {"name": "x"}


def test_get_sends_no_body_and_empty_reply_is_none(api):
    api.on("DELETE", "/v1/things/a%2Fb", Reply(204))
    assert SyncClient(settings(api.url)).request(Call("DELETE", "/v1/things/a%2Fb")) is None
    [seen] = api.seen
    assert seen.body == b"" and "Content-Type" not in seen.headers


async def test_async_client_sends_the_same_request(api):
    api.on("POST", "/v1/things", Reply(200, json={"ok": 1}))
    async with AsyncClient(settings(api.url)) as client:
        body = await client.request(Call("POST", "/v1/things", params={"flag": False}, json={"a": 1}))
    assert body == {"ok": 1}
    [seen] = api.seen
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["User-Agent"].startswith("airflow-provider-monitoring/")
    assert seen.query == {"flag": ["false"]}
    assert seen.json == {"a": 1}


# ---- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_waits_at_least_that_long(api):
    api.on("GET", "/v1/x", Reply(429, json={"error": "slow down"}, headers={"Retry-After": "2"}), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    assert second.at - first.at >= 2.0


async def test_async_429_with_retry_after_waits_at_least_that_long(api):
    api.on("GET", "/v1/x", Reply(429, headers={"Retry-After": "2"}), {"ok": True})
    async with AsyncClient(settings(api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    assert second.at - first.at >= 2.0


def test_retry_after_as_http_date_is_honoured(api):
    replies = iter([None])

    def answer(seen):
        if next(replies, "done") is None:
            return Reply(503, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        return Reply(json={"ok": True})

    api.on("GET", "/v1/x", answer)
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    # An HTTP date has whole-second precision: the wait is at least one full second.
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_then_succeeds(api, status):
    api.on("GET", "/v1/x", Reply(status, body="<html>bad gateway</html>"), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_retries_are_bounded_and_the_error_says_so(api):
    api.on("GET", "/v1/x", Reply(503, json={"error": "maintenance"}))
    with pytest.raises(ServerError) as info:
        SyncClient(settings(api.url, max_retries=2)).request(Call("GET", "/v1/x"))
    assert len(api.seen) == 3
    message = str(info.value)
    assert "HTTP 503" in message and "GET /v1/x" in message and "maintenance" in message
    assert "gave up after 3 attempts" in message


def test_retry_after_beyond_the_cap_is_not_slept_through(api):
    api.on("GET", "/v1/x", Reply(429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 5
    assert len(api.seen) == 1 and info.value.retry_after == 3600


@pytest.mark.parametrize(
    "status, cls",
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError),
     (409, ConflictError), (422, ValidationError)],
)
def test_other_4xx_are_never_retried(api, status, cls):
    api.on("GET", "/v1/x", Reply(status, json={"error": "nope"}))
    with pytest.raises(cls):
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert len(api.seen) == 1


def test_401_names_status_method_path_and_vendor_words_but_never_the_key(api):
    # The vendor echoing the key back must not leak it either.
    api.on("GET", "/v1/x", Reply(401, json={"error": f"invalid key {API_KEY}"}))
    with pytest.raises(AuthenticationError) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x", params={"q": 1}))
    message = str(info.value)
    assert len(api.seen) == 1
    assert "HTTP 401" in message and "GET /v1/x" in message and "invalid key" in message
    assert API_KEY not in message and API_KEY not in repr(info.value.body)


def test_connection_refused_is_retried_then_reported(api):
    with pytest.raises(TransportError) as info:
        SyncClient(settings(closed_port_url(), max_retries=1)).request(
            Call("GET", "/v1/x", params={"email": "someone@example.com"})
        )
    message = str(info.value)
    assert "no response" in message and "gave up after 2 attempts" in message
    assert "someone" not in message  # the query string stays out of messages


def test_transport_errors_carry_no_requests_exception_and_so_no_auth_header():
    # A requests exception holds the prepared request, Authorization header included.
    with pytest.raises(TransportError) as info:
        SyncClient(settings(closed_port_url(), max_retries=0)).request(Call("GET", "/v1/x"))
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert API_KEY not in repr(vars(info.value))


async def test_async_transport_errors_carry_no_aiohttp_exception():
    async with AsyncClient(settings(closed_port_url(), max_retries=0)) as client:
        with pytest.raises(TransportError) as info:
            await client.request(Call("GET", "/v1/x"))
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_dropped_connection_on_a_get_is_retried(api):
    api.on("GET", "/v1/x", Reply(drop=True), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_read_timeout_on_a_get_is_retried(api):
    api.on("GET", "/v1/x", Reply(json={"late": True}, delay=1.5), {"ok": True})
    assert SyncClient(settings(api.url, timeout=0.5)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


# ---- creates and credit-costing calls are never re-sent blindly ---------------------------------


@pytest.mark.parametrize("reply", [Reply(502), Reply(504), Reply(500), Reply(drop=True), Reply(json={}, delay=1.5)])
def test_unsafe_post_is_sent_once_after_an_ambiguous_failure(api, reply):
    api.on("POST", "/v1/runs", reply, {"run_id": "r2"})
    with pytest.raises(AmbiguousRequestError) as info:
        SyncClient(settings(api.url, timeout=0.5)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.requests_to("POST", "/v1/runs")) == 1
    assert "POST /v1/runs" in str(info.value) and "not re-sent" in str(info.value)


async def test_async_unsafe_post_is_sent_once_after_a_502(api):
    api.on("POST", "/v1/runs", Reply(502), {"run_id": "r2"})
    async with AsyncClient(settings(api.url)) as client:
        with pytest.raises(AmbiguousRequestError):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.seen) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_unsafe_post_refused_by_the_vendor_is_re_sent(api, status):
    api.on("POST", "/v1/runs", Reply(status, headers={"Retry-After": "0"}), {"run_id": "r1"})
    body = SyncClient(settings(api.url)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert body == {"run_id": "r1"} and len(api.seen) == 2


def test_unsafe_post_that_never_connected_is_re_sent():
    with pytest.raises(TransportError, match="gave up after 2 attempts"):
        SyncClient(settings(closed_port_url(), max_retries=1)).request(
            Call("POST", "/v1/runs", json={}, resend_safe=False)
        )


async def test_async_unsafe_post_that_never_connected_is_re_sent():
    async with AsyncClient(settings(closed_port_url(), max_retries=1)) as client:
        with pytest.raises(TransportError, match="gave up after 2 attempts"):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))


@pytest.mark.parametrize("reply", [Reply(json={}, delay=1.5), Reply(drop=True)])
async def test_async_unsafe_post_that_may_have_arrived_is_sent_once(api, reply):
    api.on("POST", "/v1/runs", reply, {"run_id": "r2"})
    async with AsyncClient(settings(api.url, timeout=0.5)) as client:
        with pytest.raises(AmbiguousRequestError):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.seen) == 1


async def test_async_get_is_retried_after_a_drop_and_a_5xx(api):
    api.on("GET", "/v1/x", Reply(drop=True), Reply(502), {"ok": True})
    async with AsyncClient(settings(api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 3


def test_retry_after_date_without_a_zone_is_read_as_gmt():
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=False).replace("+0000", "-0000"), now=now) == 30.0


def test_download_refuses_a_json_body_in_place_of_the_file(api, tmp_path):
    api.on("GET", "/v1/export", {"error": "export not ready"})
    target = tmp_path / "out.csv"
    with open(target, "wb") as sink, pytest.raises(UnexpectedResponseError, match="expected a file"):
        SyncClient(settings(api.url)).download(Call("GET", "/v1/export", accept="text/csv"), sink)
    assert target.read_bytes() == b""


def test_download_streams_the_body_to_the_file(api, tmp_path):
    csv = "email,company\n" + "".join(f"u{n}@x.io,Acme\n" for n in range(5000))
    api.on("GET", "/v1/export", Reply(body=csv, headers={"Content-Type": "text/csv"}))
    target = tmp_path / "out.csv"
    with open(target, "wb") as sink:
        written = SyncClient(settings(api.url)).download(Call("GET", "/v1/export", accept="text/csv"), sink)
    assert target.read_text() == csv and written == len(csv)
    assert api.seen[0].headers["Accept"] == "text/csv"


# ---- error bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, expected",
    [
        (Reply(400, json={"error": "Insufficient data"}), "Insufficient data"),
        (Reply(429, json={"c": 429, "m": "rate limit exceeded"}), "rate limit exceeded"),
        (Reply(400, json={"errors": [{"path": ["checks", "0"], "message": "Invalid enum", "code": "x"}]}),
         "checks.0: Invalid enum"),
        (Reply(404, json={"detail": "Monitor not found"}), "Monitor not found"),
        (Reply(422, json={"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}]}),
         "body.name: Field required"),
        (Reply(400, json={"error": "Duplicates", "duplicates": [{"website": "https://a.io", "index": 1}]}),
         "https://a.io (index 1)"),
        (Reply(502, body="<html><body>Bad Gateway</body></html>", headers={"Content-Type": "text/html"}),
         "<html><body>Bad Gateway</body></html>"),
    ],
)
def test_vendor_message_is_read_from_every_documented_body_shape(api, reply, expected):
    api.on("GET", "/v1/x", reply)
    with pytest.raises(Exception) as info:
        SyncClient(settings(api.url, max_retries=0)).request(Call("GET", "/v1/x"))
    assert expected in str(info.value)
    assert f"HTTP {reply.status}" in str(info.value)


# ---- backoff ------------------------------------------------------------------------------------


@pytest.mark.real_backoff
def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=30.0)
    for retry_number, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 30), (9, 30)]:
        delays = {policy.backoff(retry_number) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not a fixed step


# ---- a body that trickles in is bounded by the timeout ------------------------------------------


class TricklingServer:
    """A raw socket server that answers every request with a 200 whose headers come at once and
    whose body then arrives one byte every ``every`` seconds, for as long as the client listens."""

    def __init__(self, every: float = 0.2, length: int = 100_000, gzip_extra: bool = False):
        self.every, self.length = every, length
        # A gzip body whose header announces a 64 KiB extra field: bytes that decode to nothing.
        self.gzip_extra = gzip_extra
        self.requests = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.requests += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)  # the request (headers and any small JSON body)
            encoding = "Content-Encoding: gzip\r\n" if self.gzip_extra else ""
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{encoding}"
                    f"Content-Length: {self.length}\r\n\r\n")
            try:
                conn.sendall(head.encode())
                if self.gzip_extra:
                    conn.sendall(b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\xff\xff")
                while not self._stop.wait(self.every):
                    conn.sendall(b" ")
            except OSError:
                return  # the client hung up

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def trickling():
    server = TricklingServer()
    yield server
    server.close()


@pytest.mark.timeout(20)
def test_a_body_that_trickles_in_ends_within_the_timeout_and_is_retried(trickling):
    started = time.monotonic()
    with pytest.raises(TransportError, match="gave up after 2 attempts"):
        SyncClient(settings(trickling.url, timeout=1.0, max_retries=1)).request(Call("GET", "/v1/x"))
    # Two attempts of at most 1 s each, plus a tiny backoff: generous bound.
    assert time.monotonic() - started < 2 * 1.0 + 2.0
    assert trickling.requests == 2


@pytest.mark.timeout(20)
def test_a_compressed_body_that_trickles_in_ends_within_the_timeout_too():
    server = TricklingServer(gzip_extra=True)
    try:
        started = time.monotonic()
        with pytest.raises(TransportError):
            SyncClient(settings(server.url, timeout=1.0, max_retries=0)).request(Call("GET", "/v1/x"))
        assert time.monotonic() - started < 1.0 + 1.5
    finally:
        server.close()


def test_a_compressed_answer_is_decoded_although_identity_was_asked_for(api):
    import gzip

    api.on("GET", "/v1/x", Reply(body=gzip.compress(b'{"ok": true}'),
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert api.seen[0].headers.get("Accept-Encoding") == "identity"


@pytest.mark.timeout(20)
def test_a_trickling_answer_to_an_unsafe_post_is_ambiguous_and_not_re_sent(trickling):
    started = time.monotonic()
    with pytest.raises(AmbiguousRequestError, match="POST /v1/runs"):
        SyncClient(settings(trickling.url, timeout=1.0)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert time.monotonic() - started < 1.0 + 1.5
    assert trickling.requests == 1


def test_a_download_still_streams_a_large_body_in_several_reads(api, tmp_path):
    big = b"x" * (3 << 20)
    api.on("GET", "/v1/export", Reply(body=big, headers={"Content-Type": "application/octet-stream"}))
    target = tmp_path / "out.bin"
    with open(target, "wb") as sink:
        assert SyncClient(settings(api.url)).download(Call("GET", "/v1/export", accept="*/*"), sink) == len(big)
    assert target.read_bytes() == big


# ---- ~/.netrc never adds or replaces auth; proxies from the environment still apply -----------


@pytest.fixture
def netrc_for_loopback(tmp_path, monkeypatch):
    """A netrc with credentials for 127.0.0.1, found both through NETRC and through HOME."""
    path = tmp_path / ".netrc"
    path.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return path


def vendor_settings(vendor: VendorSpec, url: str) -> ApiSettings:
    return ApiSettings(vendor=vendor, base_url=url, api_key=API_KEY, timeout=5.0, max_retries=0)


def only_the_vendor_auth(seen, vendor: VendorSpec) -> None:
    assert seen.headers[vendor.auth_header] == vendor.auth_value(API_KEY)
    sent = {name.lower(): value for name, value in seen.headers.items()}
    if vendor.auth_header.lower() != "authorization":
        assert "authorization" not in sent
    assert not any("basic" in value.lower() for value in sent.values())


@pytest.mark.parametrize("vendor", [ENCRATA, DILIGENT, DATAFOLD], ids=lambda v: v.name)
def test_sync_client_ignores_netrc(api, netrc_for_loopback, vendor):
    api.on("GET", "/v1/x", {"ok": True})
    assert SyncClient(vendor_settings(vendor, api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    only_the_vendor_auth(api.seen[0], vendor)


@pytest.mark.parametrize("vendor", [ENCRATA, DILIGENT, DATAFOLD], ids=lambda v: v.name)
async def test_async_client_ignores_netrc(api, netrc_for_loopback, vendor):
    api.on("GET", "/v1/x", {"ok": True})
    async with AsyncClient(vendor_settings(vendor, api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    only_the_vendor_auth(api.seen[0], vendor)


@pytest.fixture
def api_as_proxy(api, monkeypatch):
    """HTTP_PROXY points at the loopback server, which then receives absolute-URI requests."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", api.url)
    return api


def test_sync_client_goes_through_the_proxy_of_the_environment(api_as_proxy):
    api_as_proxy.on("GET", "/v1/x", {"ok": True})
    client = SyncClient(settings("http://acme.invalid"))
    assert client.request(Call("GET", "/v1/x")) == {"ok": True}
    assert api_as_proxy.seen[0].headers["Host"] == "acme.invalid"


async def test_async_client_goes_through_the_proxy_of_the_environment(api_as_proxy):
    api_as_proxy.on("GET", "/v1/x", {"ok": True})
    async with AsyncClient(settings("http://acme.invalid")) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    assert api_as_proxy.seen[0].headers["Host"] == "acme.invalid"


# ---- an API key echoed in a 2xx body never reaches an error -------------------------------------


def assert_no_key(exc: BaseException) -> None:
    for text in (str(exc), exc.vendor_message, repr(exc.body), repr(exc.args)):
        assert API_KEY not in text
        assert API_KEY[:10] not in text  # not even the start of it, cut by an excerpt


def test_a_key_echoed_in_a_listing_page_is_redacted(api):
    api.on("GET", "/list", {"headers": {"Authorization": f"Bearer {API_KEY}"}})
    with pytest.raises(UnexpectedResponseError) as info:
        list(SyncClient(settings(api.url)).iter_pages("/list", OffsetPages("runs", "Acme")))
    assert_no_key(info.value)
    assert "GET /list" in str(info.value)


def test_a_key_echoed_as_text_is_redacted_even_where_the_excerpt_cuts(api):
    echo = "x" * 170 + f" Authorization: Bearer {API_KEY} " + "y" * 200
    api.on("GET", "/v1/x", Reply(body=echo, headers={"Content-Type": "text/plain"}))
    with pytest.raises(UnexpectedResponseError) as info:
        SyncClient(settings(api.url, max_retries=0)).request(Call("GET", "/v1/x"))
    assert_no_key(info.value)


def test_a_key_echoed_in_an_error_status_is_redacted_even_where_the_message_is_cut(api):
    api.on("GET", "/v1/x", Reply(400, body="x" * 285 + API_KEY, headers={"Content-Type": "text/plain"}))
    with pytest.raises(BadRequestError) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert_no_key(info.value)


# ---- a 2xx body that is not JSON where JSON was asked for ---------------------------------------


HTML = "<html><head><title>Sign in</title></head><body>" + "<p>please sign in</p>" * 40 + "</body></html>"
NOT_JSON = [
    Reply(body=HTML, headers={"Content-Type": "text/html"}),
    Reply(body='{"items": [', headers={"Content-Type": "application/json"}),
]


def test_a_2xx_that_is_not_json_says_so_with_a_short_excerpt(api):
    api.on("GET", "/api/monitors", Reply(body=HTML, headers={"Content-Type": "text/html; charset=utf-8"}))
    with pytest.raises(UnexpectedResponseError) as info:
        SyncClient(settings(api.url, max_retries=0)).request(Call("GET", "/api/monitors"))
    message = str(info.value)
    assert message.startswith("Acme API HTTP 200 on GET /api/monitors: the body was not JSON (text/html): <html>")
    excerpt = info.value.vendor_message.split("(text/html): ", 1)[1].split("; gave up")[0]
    assert len(excerpt) <= 200


@pytest.mark.parametrize("reply", NOT_JSON, ids=["html", "broken-json"])
def test_a_get_whose_2xx_body_does_not_parse_is_retried(api, reply):
    api.on("GET", "/v1/x", reply, {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


@pytest.mark.parametrize("reply", NOT_JSON, ids=["html", "broken-json"])
async def test_async_get_whose_2xx_body_does_not_parse_is_retried(api, reply):
    api.on("GET", "/v1/x", reply, {"ok": True})
    async with AsyncClient(settings(api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_a_get_whose_2xx_body_never_parses_gives_up_after_the_retries(api):
    api.on("GET", "/v1/x", Reply(body='{"items": [', headers={"Content-Type": "application/json"}))
    with pytest.raises(UnexpectedResponseError) as info:
        SyncClient(settings(api.url, max_retries=2)).request(Call("GET", "/v1/x"))
    assert len(api.seen) == 3
    assert "the body was not JSON (application/json)" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)


def test_an_unsafe_post_whose_2xx_body_does_not_parse_is_not_re_sent(api):
    api.on("POST", "/v1/runs", Reply(201, body=HTML, headers={"Content-Type": "text/html"}), {"run_id": "r2"})
    with pytest.raises(UnexpectedResponseError) as info:
        SyncClient(settings(api.url)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert not isinstance(info.value, AmbiguousRequestError)
    assert len(api.seen) == 1
    assert "HTTP 201 on POST /v1/runs" in str(info.value) and "not JSON" in str(info.value)


async def test_async_unsafe_post_whose_2xx_body_does_not_parse_is_not_re_sent(api):
    api.on("POST", "/v1/runs", Reply(201, body=HTML, headers={"Content-Type": "text/html"}), {"run_id": "r2"})
    async with AsyncClient(settings(api.url)) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert not isinstance(info.value, AmbiguousRequestError)
    assert len(api.seen) == 1


def test_a_text_body_asked_for_as_text_is_returned_as_text(api):
    api.on("GET", "/v1/notes", Reply(body="just words", headers={"Content-Type": "text/plain"}))
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/notes", accept="text/plain")) == "just words"
    assert len(api.seen) == 1


@pytest.mark.parametrize("raw", [
    b'{"a": 1}', b"[1, 2]", b'"text"', b"NaN", b'{"a": NaN, "b": 1.5e400}', b'\xff{"a": 1}', b'{"a": "\xe9"}',
    b"<html>login</html>", b"  ", b'{"n": 123456789012345678901234567890}', b'{"a": 1}{"b": 2}', b'{"a": 1, "a": 2}',
])
def test_bodies_read_as_the_json_module_reads_them(raw):
    # The fast decoder must not change what any body means: the same value, or text only, as before.
    import json
    import math

    from airflow_provider_monitoring._http.client import decode_body

    text = raw.decode("utf-8", errors="replace")
    try:
        expected = json.loads(text) if text.strip() else None
    except ValueError:
        expected = None
    body, got_text = decode_body(raw)
    assert got_text == text
    same = repr(body) == repr(expected) or (isinstance(body, float) and math.isnan(body) and math.isnan(expected))
    assert same, (body, expected)

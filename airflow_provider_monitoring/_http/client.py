"""The two transports: requests for hooks used in tasks, aiohttp for triggers.

Both speak through the same RetryPolicy/Attempts and the same page walkers, so retry, error and
pagination behaviour cannot drift between a task and a trigger.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import IO, Any, AsyncIterator, Iterator, Mapping, NamedTuple

from airflow_provider_monitoring._http.errors import ConfigurationError, UnexpectedResponseError, excerpt, not_json
from airflow_provider_monitoring._http.pagination import Pages
from airflow_provider_monitoring._http.retry import (
    Attempts,
    Call,
    Failure,
    RetryPolicy,
    describe_failure,
    is_json_type,
)
from airflow_provider_monitoring._http.settings import ApiSettings

def _user_agent() -> str:
    """``airflow-provider-monitoring/<version>``, from the installed distribution: the HTTP layer
    imports nothing above itself, not even the package root."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"airflow-provider-monitoring/{version('airflow-provider-monitoring')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "airflow-provider-monitoring/unknown"


USER_AGENT = _user_agent()
READ_SIZE = 1 << 16
# 2xx types that are never the file a download asked for (an "export not ready" object, a login page).
NOT_A_FILE = ("application/json", "text/html")


class Answer(NamedTuple):
    """An HTTP answer with its whole body."""

    status: int
    headers: Mapping[str, str]
    raw: bytes


def decode_body(raw: bytes) -> tuple[Any, str]:
    """(parsed JSON or None, text). Non-JSON bodies (proxy pages, CSV) come back as text only.

    msgspec (an Airflow dependency) decodes first: 2.5 times as fast as the json module on a page
    of runs, which is most of what a shared poll costs. What it refuses (invalid UTF-8, NaN) gets
    the json module's more lenient reading, so both read what the json module alone read."""
    import msgspec  # loaded with the first answer, not with the hook

    text = raw.decode("utf-8", errors="replace") if raw else ""
    if not text.strip():
        return None, text
    try:
        return msgspec.json.decode(raw), text
    except (msgspec.DecodeError, ValueError):  # ValueError: a string that is not UTF-8
        pass
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _body_or_text(body: Any, text: str) -> Any:
    return body if body is not None or not text.strip() else text


def content_type(headers: Mapping[str, str]) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip().lower()


def _unreadable(call: Call, headers: Mapping[str, str], body: Any, text: str) -> bool:
    """A body that should be JSON (the call asked for JSON, or the Content-Type says so) and does
    not parse. An empty body is not unreadable: a 204, or a 200 that says nothing more."""
    if body is not None or text.strip() in ("", "null"):
        return False
    return call.wants_json or is_json_type(content_type(headers))


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Drop unset parameters and spell booleans the way the vendors document them ("true")."""
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out or None


class _Base:
    def __init__(self, settings: ApiSettings, policy: RetryPolicy | None = None):
        self.settings = settings
        self.policy = policy or RetryPolicy(max_retries=settings.max_retries)

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {"Accept": call.accept, "User-Agent": USER_AGENT, **self.settings.auth_headers()}
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _attempts(self, call: Call) -> Attempts:
        return Attempts(call, self.policy, self.settings.vendor.name, self.settings.timeout)

    def _settle(self, attempts: Attempts, outcome: Answer | Failure) -> tuple[Any, float | None]:
        """What one attempt's outcome means, decided here for both clients: ``(body, None)`` when
        the call is done, ``(None, delay)`` to wait and try again; the final error is raised."""
        if isinstance(outcome, Failure):
            return None, attempts.after_exception(outcome)
        body, text = decode_body(outcome.raw)
        if not 200 <= outcome.status < 300:
            return None, attempts.after_status(outcome.status, outcome.headers, body, text)
        if _unreadable(attempts.call, outcome.headers, body, text):
            return None, attempts.after_unreadable(outcome.status, content_type(outcome.headers), text)
        return _body_or_text(body, text), None


def _requests_reached_vendor(exc: BaseException) -> bool:
    """False only when the failure happened before a byte of the request left (DNS, refused, connect timeout)."""
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, NameResolutionError)):
            return False
        if isinstance(item, BaseException):
            stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return True


def _requests_failure(exc: BaseException) -> Failure:
    import requests
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    timed_out = isinstance(exc, (requests.Timeout, Urllib3Timeout, TimeoutError))
    return Failure(describe_failure(exc), _requests_reached_vendor(exc), timed_out)


def _no_netrc(request: Any) -> Any:
    """requests' auth hook, adding nothing: the vendor's header is already among the headers.
    Any explicit auth stops requests (``trust_env``, its default) from reading ~/.netrc, whose
    Basic credentials for the host would replace the vendor's Authorization header or travel
    beside its own header. trust_env stays on for the rest it reads: proxies and CA bundle."""
    return request


class BodyTimeout(TimeoutError):
    """The headers came in time, the whole body did not."""


def _read_whole(response: Any, deadline: float) -> Answer | Failure:
    """The whole body of a streamed requests ``response`` by ``deadline`` (monotonic seconds).

    requests' timeout bounds each socket read, so a body trickling in a byte at a time would
    never time out. Here each read may wait only for the time left, and ``read1`` hands back what
    has arrived instead of waiting to fill its buffer, so no read outlives the deadline.
    """
    import requests
    from urllib3.exceptions import HTTPError

    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                received = sum(len(chunk) for chunk in chunks)
                raise BodyTimeout(f"the body was still arriving when the timeout ran out ({received} bytes in)")
            _limit_next_read(response, left)
            # Undecoded: a decoder may read on and on while compressed bytes decode to nothing,
            # past the deadline. The body is decoded once it is all here.
            chunk = response.raw.read1(READ_SIZE, decode_content=False)
            if not chunk:
                # All read: urllib3 has put the connection back in the pool.
                body = _decoded(b"".join(chunks), response.headers.get("Content-Encoding", ""))
                return Answer(response.status_code, response.headers, body)
            chunks.append(chunk)
    except (HTTPError, requests.RequestException, OSError) as exc:
        failure = _requests_failure(exc)
    # A half-read connection cannot be reused: close it rather than return it to the pool.
    response.close()
    return failure


def _decoded(raw: bytes, encoding: str) -> bytes:
    """A body read undecoded, decoded. Requests ask for ``identity``, so a compressed answer is a
    server's own choice: gzip and deflate are undone; another coding is left as it came (and then
    fails to parse as JSON, which says so)."""
    import zlib

    encoding = encoding.strip().lower()
    if not raw or encoding not in ("gzip", "x-gzip", "deflate"):
        return raw
    try:
        # wbits 47: a gzip or zlib header, told apart by zlib itself; -15: deflate without header.
        return zlib.decompress(raw, 47)
    except zlib.error:
        try:
            return zlib.decompress(raw, -15)
        except zlib.error:
            return raw


def _limit_next_read(response: Any, seconds: float) -> None:
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


class SyncClient(_Base):
    """requests.Session with one pooled connection set per hook instance."""

    def __init__(self, settings: ApiSettings, policy: RetryPolicy | None = None):
        super().__init__(settings, policy)
        self._session = None
        self._environment: dict[str, Any] | None = None

    @property
    def session(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    @property
    def environment(self) -> dict[str, Any]:
        """What requests takes from the environment for a request to the vendor (proxies and their
        NO_PROXY exceptions, the CA bundle), read once per session. ``Session.request`` reads it
        again for every request, scanning all environment variables twice: a quarter of the time
        a page of results takes on loopback. Every path of a client is on one host, so once is
        the same answer (the async client does the same)."""
        if self._environment is None:
            merged = self.session.merge_environment_settings(self.settings.url("/"), {}, True, None, None)
            self._environment = {key: merged[key] for key in ("proxies", "verify", "cert")}
        return self._environment

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._environment = None

    def request(self, call: Call) -> Any:
        """Send ``call`` with retries; the decoded body (JSON, text, or None for an empty body).
        Each attempt ends within the timeout, body included."""
        return self._send(call)[1]

    def status_and_body(self, call: Call) -> tuple[int, Any]:
        return self._send(call)

    def _send(self, call: Call) -> tuple[int, Any]:
        attempts = self._attempts(call)
        while True:
            outcome = self._attempt(call, attempts.budget())
            body, delay = self._settle(attempts, outcome)
            if delay is None:
                return outcome.status, body
            time.sleep(delay)

    def _attempt(self, call: Call, budget: float) -> Answer | Failure:
        """One request and its whole body, within ``budget`` seconds in all."""
        deadline = time.monotonic() + budget
        response = self._open(call, budget)
        return response if isinstance(response, Failure) else _read_whole(response, deadline)

    def _open(self, call: Call, budget: float) -> Any:
        """Send ``call`` and wait for the status line and headers; the body is left unread.
        A Failure when no answer came."""
        import requests
        from urllib3 import Timeout

        try:
            # What Session.request does, with the environment read once (see environment).
            request = requests.Request(
                call.method.upper(),
                self.settings.url(call.path),
                params=_query(call.params),
                json=call.json,
                # Uncompressed: the body is read against a deadline (see _read_whole).
                headers={**self._headers(call), "Accept-Encoding": "identity"},
                auth=_no_netrc,
            )
            return self.session.send(
                self.session.prepare_request(request),
                # One budget for connecting and waiting for the headers together.
                timeout=Timeout(total=budget),
                stream=True,
                allow_redirects=False,
                **self.environment,
            )
        except requests.RequestException as exc:
            # Returned, not raised: no error raised later carries the requests exception (and the
            # auth header it holds) as its context.
            return _requests_failure(exc)

    def download(self, call: Call, sink: IO[bytes], chunk_size: int = READ_SIZE) -> int:
        """Stream a non-JSON body into ``sink`` (a seekable binary file); returns bytes written.
        Give the call an ``accept`` that admits the file's type (``Call(..., accept="text/csv, */*")``).

        A transfer that breaks mid-way is started again from byte 0, so the file never holds a
        spliced mix of two responses. Unlike ``request``, the transfer is bounded per read (a
        stall of the timeout fails it), not in all: a large file may rightly take longer than
        one request's timeout.
        """
        attempts = self._attempts(call)
        start = sink.tell()
        while True:
            outcome = self._download_once(call, attempts.budget(), sink, start, chunk_size)
            if isinstance(outcome, int):
                return outcome
            _, delay = self._settle(attempts, outcome)  # an error status or a failure: never a 2xx
            time.sleep(delay)

    def _download_once(self, call: Call, budget: float, sink: IO[bytes], start: int, chunk_size: int) -> int | Answer | Failure:
        """One attempt: the bytes written, or the error answer or failure that stopped it."""
        import requests

        deadline = time.monotonic() + budget
        response = self._open(call, budget)
        if isinstance(response, Failure):
            return response
        if not 200 <= response.status_code < 300:
            return _read_whole(response, deadline)
        if content_type(response.headers) in NOT_A_FILE:
            page = _read_whole(response, deadline)
            if isinstance(page, Failure):
                return page
            raise self._not_the_file(call, page)
        failure = None
        try:
            written = 0
            for chunk in response.iter_content(chunk_size):
                sink.write(chunk)
                written += len(chunk)
            return written
        except requests.RequestException as exc:
            failure = _requests_failure(exc)
        finally:
            response.close()
        sink.seek(start)
        sink.truncate()
        return failure

    def _not_the_file(self, call: Call, page: Answer) -> UnexpectedResponseError:
        """A 2xx that is JSON or HTML is not the file asked for: fail closed instead of saving it."""
        body, text = decode_body(page.raw)
        return unexpected(
            self.settings, call.method, call.path,
            f"expected a file, got {content_type(page.headers)}", _body_or_text(body, text),
        )

    def iter_pages(self, path: str, pages: Pages, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paginated listing, fetched one page at a time (see pagination.py for
        when a walk ends)."""
        query = pages.first(params)
        while query is not None:
            body = self.request(Call("GET", path, params=query))
            items = pages.items(body, path)
            yield from items
            query = pages.next(query, body, items)


def _aiohttp_reached_vendor(exc: BaseException) -> bool:
    import aiohttp

    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
    if connect_timeout is not None and isinstance(exc, connect_timeout):
        return False
    return not isinstance(exc, aiohttp.ClientConnectorError)


async def _proxy_from_env(url: str) -> tuple[Any, Any]:
    """(proxy, proxy auth) the environment names for ``url`` (HTTP(S)_PROXY, NO_PROXY), found as
    aiohttp's ``trust_env`` finds them, without trust_env's other effect: Basic credentials from
    ~/.netrc for the vendor's host, which aiohttp adds beside (or refuses next to) the vendor's."""
    from urllib.request import getproxies

    if not getproxies():
        return None, None
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        # In a thread as aiohttp does: the proxy's own credentials may be read from ~/.netrc.
        return await asyncio.to_thread(get_env_proxy_for_url, URL(url))
    except LookupError:
        return None, None


class AsyncClient(_Base):
    """aiohttp twin of SyncClient for triggers.

    It may borrow a ``ClientSession`` owned by someone else (many waits in one triggerer share one
    pool); it closes only a session it opened itself. Auth travels per request, never on the
    session, so a shared session carries no vendor's key.
    """

    def __init__(self, settings: ApiSettings, session: Any = None, policy: RetryPolicy | None = None):
        super().__init__(settings, policy)
        if session is not None and getattr(session, "trust_env", False):
            raise ConfigurationError(
                "a borrowed aiohttp ClientSession must be made with trust_env=False: with it, aiohttp adds "
                f"~/.netrc credentials to {settings.vendor.name} requests beside the API key (proxies from the "
                "environment are applied to each request anyway)"
            )
        self._session = session
        self._owns_session = session is None
        self._proxy: tuple[Any, Any] | None = None  # looked up once: every path is on one host

    async def __aenter__(self) -> AsyncClient:
        if self._session is None:
            import aiohttp

            # Not trust_env: it would also read ~/.netrc (see _proxy_from_env). The proxies of the
            # environment are applied per request, as requests does for tasks.
            self._session = aiohttp.ClientSession(trust_env=False)
            self._owns_session = True
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def request(self, call: Call) -> Any:
        if self._session is None:
            raise RuntimeError("AsyncClient used outside 'async with'")
        attempts = self._attempts(call)
        while True:
            outcome = await self._attempt(call, attempts.budget())
            body, delay = self._settle(attempts, outcome)
            if delay is None:
                return body
            await asyncio.sleep(delay)

    async def _attempt(self, call: Call, budget: float) -> Answer | Failure:
        """One request and its whole body, within ``budget`` seconds in all (aiohttp's total)."""
        import aiohttp

        url = self.settings.url(call.path)
        if self._proxy is None:
            self._proxy = await _proxy_from_env(self.settings.url("/"))
        proxy, proxy_auth = self._proxy
        try:
            async with self._session.request(
                call.method,
                url,
                params=_query(call.params),
                json=call.json,
                headers=self._headers(call),
                timeout=aiohttp.ClientTimeout(total=budget),
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return Answer(response.status, response.headers, await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            timed_out = isinstance(exc, asyncio.TimeoutError)
            return Failure(describe_failure(exc), _aiohttp_reached_vendor(exc), timed_out)

    async def iter_pages(self, path: str, pages: Pages, params: Mapping[str, Any] | None = None) -> AsyncIterator[Any]:
        query = pages.first(params)
        while query is not None:
            body = await self.request(Call("GET", path, params=query))
            items = pages.items(body, path)
            for item in items:
                yield item
            query = pages.next(query, body, items)


def unexpected(settings: ApiSettings, method: str, path: str, what: str, body: Any) -> UnexpectedResponseError:
    """A 2xx body that lacks what the vendor documents: fail closed, showing (redacted) what came back."""
    got = not_json(body) if body is None or isinstance(body, str) else f"got {excerpt(body)}"
    return UnexpectedResponseError(
        vendor=settings.vendor.name, method=method, path=path, status=200,
        vendor_message=f"{what}; {got}", body=body,
    )

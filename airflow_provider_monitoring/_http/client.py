"""The two transports: requests for hooks used in tasks, aiohttp for triggers.

Both speak through the same RetryPolicy/Attempts and the same page walkers, so retry, error and
pagination behaviour cannot drift between a task and a trigger.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import IO, Any, AsyncIterator, Iterator, Mapping

from airflow_provider_monitoring import __version__
from airflow_provider_monitoring._http.errors import UnexpectedResponseError
from airflow_provider_monitoring._http.pagination import Pages
from airflow_provider_monitoring._http.retry import Attempts, Call, RetryPolicy, describe_failure
from airflow_provider_monitoring._http.settings import ApiSettings

USER_AGENT = f"airflow-provider-monitoring/{__version__}"


def decode_body(raw: bytes) -> tuple[Any, str]:
    """(parsed JSON or None, text). Non-JSON bodies (proxy pages, CSV) come back as text only."""
    text = raw.decode("utf-8", errors="replace") if raw else ""
    if not text.strip():
        return None, text
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _body_or_text(body: Any, text: str) -> Any:
    return body if body is not None or not text.strip() else text


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
        return Attempts(call, self.policy, self.settings.vendor.name, self.settings.api_key)


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


class SyncClient(_Base):
    """requests.Session with one pooled connection set per hook instance."""

    def __init__(self, settings: ApiSettings, policy: RetryPolicy | None = None):
        super().__init__(settings, policy)
        self._session = None

    @property
    def session(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(self, call: Call) -> Any:
        """Send ``call`` with retries; the decoded body (JSON, text, or None for an empty body)."""
        response = self._send(call, stream=False)
        body, text = decode_body(response.content)
        return _body_or_text(body, text)

    def status_and_body(self, call: Call) -> tuple[int, Any]:
        response = self._send(call, stream=False)
        body, text = decode_body(response.content)
        return response.status_code, _body_or_text(body, text)

    def download(self, call: Call, sink: IO[bytes], chunk_size: int = 1 << 16) -> int:
        """Stream a non-JSON body into ``sink`` (a seekable binary file); returns bytes written.
        Give the call an ``accept`` that admits the file's type (``Call(..., accept="text/csv, */*")``).

        A transfer that breaks mid-way is started again from byte 0, so the file never holds a
        spliced mix of two responses.
        """
        import requests

        attempts = self._attempts(call)
        start = sink.tell()
        while True:
            response = self._send(call, stream=True, attempts=attempts)
            failure = None
            try:
                self._refuse_error_page(call, response)
                written = 0
                for chunk in response.iter_content(chunk_size):
                    sink.write(chunk)
                    written += len(chunk)
                return written
            except requests.RequestException as exc:
                failure = describe_failure(exc)
            finally:
                response.close()
            sink.seek(start)
            sink.truncate()
            time.sleep(attempts.after_exception(failure, reached_vendor=True))

    def _refuse_error_page(self, call: Call, response: Any) -> None:
        """A 2xx that is JSON or HTML is not the file asked for (an "export not ready" object, a
        login page): fail closed instead of saving it as the download."""
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in ("application/json", "text/html"):
            body, text = decode_body(response.content)
            raise unexpected(
                self.settings, call.method, call.path,
                f"expected a file, got {content_type}", _body_or_text(body, text),
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

    def _send(self, call: Call, stream: bool, attempts: Attempts | None = None):
        import requests

        attempts = attempts or self._attempts(call)
        while True:
            try:
                response = self.session.request(
                    call.method,
                    self.settings.url(call.path),
                    params=_query(call.params),
                    json=call.json,
                    headers=self._headers(call),
                    timeout=self.settings.timeout,
                    stream=stream,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                failure, reached = describe_failure(exc), _requests_reached_vendor(exc)
            else:
                if 200 <= response.status_code < 300:
                    return response
                body, text = decode_body(response.content)
                response.close()
                failure, reached = None, True
            # Decided outside the except block, so no error raised here carries the requests
            # exception (and its auth header) as context.
            if failure is None:
                delay = attempts.after_status(response.status_code, response.headers, body, text)
            else:
                delay = attempts.after_exception(failure, reached)
            time.sleep(delay)


def _aiohttp_reached_vendor(exc: BaseException) -> bool:
    import aiohttp

    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
    if connect_timeout is not None and isinstance(exc, connect_timeout):
        return False
    return not isinstance(exc, aiohttp.ClientConnectorError)


class AsyncClient(_Base):
    """aiohttp twin of SyncClient for triggers.

    It may borrow a ``ClientSession`` owned by someone else (many waits in one triggerer share one
    pool); it closes only a session it opened itself. Auth travels per request, never on the
    session, so a shared session carries no vendor's key.
    """

    def __init__(self, settings: ApiSettings, session: Any = None, policy: RetryPolicy | None = None):
        super().__init__(settings, policy)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> AsyncClient:
        if self._session is None:
            import aiohttp

            # trust_env as requests does by default: the same proxy and CA settings for tasks
            # and triggers.
            self._session = aiohttp.ClientSession(trust_env=True)
            self._owns_session = True
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def request(self, call: Call) -> Any:
        import aiohttp

        if self._session is None:
            raise RuntimeError("AsyncClient used outside 'async with'")
        attempts = self._attempts(call)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        while True:
            try:
                async with self._session.request(
                    call.method,
                    self.settings.url(call.path),
                    params=_query(call.params),
                    json=call.json,
                    headers=self._headers(call),
                    timeout=timeout,
                    allow_redirects=False,
                ) as response:
                    raw = await response.read()
                    status, headers = response.status, response.headers
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failure, reached = describe_failure(exc), _aiohttp_reached_vendor(exc)
            else:
                body, text = decode_body(raw)
                if 200 <= status < 300:
                    return _body_or_text(body, text)
                failure = None
            if failure is None:
                delay = attempts.after_status(status, headers, body, text)
            else:
                delay = attempts.after_exception(failure, reached)
            await asyncio.sleep(delay)

    async def iter_pages(self, path: str, pages: Pages, params: Mapping[str, Any] | None = None) -> AsyncIterator[Any]:
        query = pages.first(params)
        while query is not None:
            body = await self.request(Call("GET", path, params=query))
            items = pages.items(body, path)
            for item in items:
                yield item
            query = pages.next(query, body, items)


def unexpected(settings: ApiSettings, method: str, path: str, what: str, body: Any) -> UnexpectedResponseError:
    """A 2xx body that lacks what the vendor documents: fail closed, showing what came back."""
    shown = json.dumps(body, default=str)[:300] if not isinstance(body, str) else body[:300]
    return UnexpectedResponseError(
        vendor=settings.vendor.name, method=method, path=path, status=200,
        vendor_message=f"{what}; got {shown}", body=body,
    )

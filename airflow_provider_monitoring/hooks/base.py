"""What the three vendor hooks have in common: connection lookup, the two clients, test_connection,
and the look-up that follows a create whose outcome is unknown."""

from __future__ import annotations

import time
from dataclasses import replace
from contextlib import aclosing
from functools import cached_property
from typing import Any, AsyncIterator, Callable, ClassVar, Iterable

from airflow.sdk import BaseHook

from airflow_provider_monitoring._http.client import AsyncClient, SyncClient, unexpected
from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    MonitoringError,
    NotFoundError,
)
from airflow_provider_monitoring._http.retry import Call, RetryPolicy
from airflow_provider_monitoring._http.settings import ApiSettings, VendorSpec, settings_from_connection
from airflow_provider_monitoring._http.values import parse_time

__all__ = ["MonitoringHook"]


PROBE_TIMEOUT = 10.0
# Clock skew allowed between us and a vendor when deciding what a lost create may have made.
CLOCK_SLACK = 120.0


class MonitoringHook(BaseHook):
    """Base of EncrataHook, DiligentHook and DatafoldHook.

    Nothing is read or sent in the constructor: the connection is resolved on first use, so a hook
    can be built at DAG parse time for free. Sync methods use one pooled ``requests.Session`` per
    hook; async methods run inside ``async with hook:`` on one aiohttp session for the whole block.

    :param conn_id: The Airflow connection (each vendor's hook takes it as ``<vendor>_conn_id``).
    :param timeout: Seconds per request, instead of the connection's ``timeout`` extra.
    :param max_retries: Retries per request, instead of the connection's ``max_retries`` extra.
    """

    vendor: ClassVar[VendorSpec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Airflow's hook attributes, derived from the vendor's facts so they are written once."""
        super().__init_subclass__(**kwargs)
        vendor = cls.__dict__.get("vendor")
        if vendor is not None:
            cls.conn_type = vendor.conn_type
            cls.conn_name_attr = f"{vendor.conn_type}_conn_id"
            cls.default_conn_name = vendor.default_conn_id
            cls.hook_name = vendor.name

    def __init__(self, conn_id: str | None = None, *, timeout: float | None = None,
                 max_retries: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        # Overrides of the connection's own extras, for calls that must be quick (a cancel on kill).
        self._overrides = {key: value for key, value in (("timeout", timeout), ("max_retries", max_retries))
                           if value is not None}
        self._settings: ApiSettings | None = None
        self._aclient: AsyncClient | None = None
        self._shared_session: Any = None

    # ---- connection -------------------------------------------------------------------------

    @property
    def settings(self) -> ApiSettings:
        if self._settings is None:
            self._settings = self._make_settings(self.get_connection(self.conn_id))
        return self._settings

    def _make_settings(self, conn: Any) -> ApiSettings:
        return replace(settings_from_connection(self.vendor, conn), **self._overrides)

    @cached_property
    def client(self) -> SyncClient:
        return SyncClient(self.settings)

    def get_conn(self) -> SyncClient:
        return self.client

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()

    # ---- async ------------------------------------------------------------------------------

    def use_session(self, session: Any) -> MonitoringHook:
        """Borrow an aiohttp ``ClientSession`` owned elsewhere for the next ``async with`` block."""
        self._shared_session = session
        return self

    async def asettings(self) -> ApiSettings:
        """The connection's settings, resolved without blocking the event loop (triggers call this)
        and without opening any HTTP session."""
        if self._settings is None:
            self._settings = self._make_settings(await self.aget_connection(self.conn_id))
        return self._settings

    async def __aenter__(self) -> MonitoringHook:
        self._aclient = AsyncClient(await self.asettings(), session=self._shared_session)
        await self._aclient.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._aclient is not None:
            await self._aclient.close()
            self._aclient = None

    @property
    def aclient(self) -> AsyncClient:
        if self._aclient is None:
            raise RuntimeError(f"{type(self).__name__} async methods must run inside 'async with hook:'")
        return self._aclient

    # ---- calls ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
              resend_safe: bool = True) -> Any:
        return self.client.request(Call(method, path, params=params, json=json, resend_safe=resend_safe))

    def _object(self, body: Any, method: str, path: str, must_have: str | None = None) -> dict:
        """A 2xx body that must be a JSON object (optionally holding ``must_have``): fail closed otherwise."""
        if not isinstance(body, dict) or (must_have and body.get(must_have) in (None, "")):
            what = f"an object with {must_have!r}" if must_have else "a JSON object"
            raise unexpected(self.settings, method, path, f"expected {what}", body)
        return body

    def _create(self, method: str, path: str, payload: Any, find: Callable[[float], Iterable[dict]]) -> Any:
        """POST a create once. If its fate is unknown (timeout, reset, 5xx), ask ``find`` for objects
        that match the request and appeared since it was sent: exactly one is taken as ours, any
        other count re-raises the ambiguous error. Nothing is ever re-sent."""
        sent_at = time.time()
        try:
            return self._call(method, path, json=payload, resend_safe=False)
        except AmbiguousRequestError as exc:
            self.log.warning("%s; looking for the object it may have created", exc)
            try:
                found = list(find(sent_at))
            except MonitoringError as lookup_error:
                raise exc from lookup_error
            if len(found) == 1:
                self.log.info("the create did go through; using %s", found[0].get("id"))
                return found[0]
            exc.args = (f"{exc.args[0]}; {len(found)} matching objects found afterwards",)
            raise

    @staticmethod
    def created_since(record: dict, sent_at: float, *keys: str, slack: float = CLOCK_SLACK) -> bool:
        """True when the record's creation time is not older than the request (with clock slack)."""
        for key in keys or ("created_at",):
            value = record.get(key)
            if value:
                try:
                    return parse_time(value).timestamp() >= sent_at - slack
                except MonitoringError:
                    return False
        return False

    # ---- test_connection --------------------------------------------------------------------

    def _probe(self) -> Any:
        """One cheap, free, read-only call that needs a valid key."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """(True, where) or (False, why), within seconds: the probe gets one quick retry, a
        request timeout of at most 10 s, and does not sleep through a long Retry-After."""
        saved = self.__dict__.get("client")
        probe_client = None
        try:
            settings = replace(self.settings, timeout=min(self.settings.timeout, PROBE_TIMEOUT))
            probe_client = SyncClient(settings, RetryPolicy(max_retries=1, backoff_cap=2.0, max_retry_after=5.0))
            self.__dict__["client"] = probe_client
            self._probe()
        except NotFoundError as exc:
            return False, f"{exc} ({self._not_found_hint()})"
        except Exception as exc:  # the form shows any failure as text, never a traceback
            return False, str(exc) or type(exc).__name__
        finally:
            if probe_client is not None:
                probe_client.close()
            if saved is None:
                self.__dict__.pop("client", None)
            else:
                self.__dict__["client"] = saved
        return True, f"Connected to {self.vendor.name} at {self.settings.base_url}"

    def _not_found_hint(self) -> str:
        return "check the host and path settings of the connection"


class ListingLookup:
    """One id looked for in a listing walked to its end, for APIs that have no get-by-id endpoint
    (Encrata runs, Diligent monitorings). The sync and async walks share the match and the error."""

    def __init__(self, vendor: str, path: str, what: str, wanted: Any, *, key: str = "id",
                 error: type[NotFoundError] = NotFoundError, hint: str = ""):
        self.vendor, self.path, self.what, self.key, self.error, self.hint = vendor, path, what, key, error, hint
        self.wanted = str(wanted).strip()
        self.scanned = 0

    def matches(self, item: Any) -> bool:
        self.scanned += 1
        # Ids are opaque: compare as text, so 42 and "42" are the same id.
        return isinstance(item, dict) and item.get(self.key) is not None and str(item[self.key]) == self.wanted

    def find(self, items: Iterable[Any]) -> dict:
        for item in items:
            if self.matches(item):
                return item
        raise self.not_found()

    async def afind(self, items: AsyncIterator[Any]) -> dict:
        # aclosing: returning mid-walk must close the page generator and its pending request.
        async with aclosing(items) as walk:
            async for item in walk:
                if self.matches(item):
                    return item
        raise self.not_found()

    def not_found(self) -> NotFoundError:
        message = f"{self.what} {self.wanted!r} is not among the {self.scanned} {self.what}s listed"
        return self.error(
            vendor=self.vendor, method="GET", path=self.path,
            vendor_message=f"{message} ({self.hint})" if self.hint else message,
        )

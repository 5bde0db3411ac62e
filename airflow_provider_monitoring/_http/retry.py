"""When to try a request again, and how long to wait first.

The policy is written once and driven by both the sync (requests) and the async (aiohttp) client:
each attempt's outcome goes in, and either a delay or the error to raise comes out.

A caller may also set a deadline (``deadline_at``) around any number of calls: no retry sleep
then ends past it, and no request outlives it (see ``Attempts.budget``).
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Iterator, Mapping, NamedTuple

from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    ApiError,
    DeadlineReached,
    RateLimitedError,
    TransportError,
    UnexpectedResponseError,
    error_class_for,
    not_json,
    redact,
    vendor_message,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 429 or 503 means the vendor refused before doing anything, so even a create may be re-sent.
# 500, 502 and 504 (and timeouts, resets) leave open whether the vendor acted.
REFUSED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    # A Retry-After above this is not slept through: the error is raised with the vendor's value.
    max_retry_after: float = 300.0

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, so waits never collapse to 0."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (retry_number - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Call:
    """One logical API call (possibly several attempts)."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    # False for a POST that creates something or costs credits: never re-sent after a failure
    # that may have reached the vendor.
    resend_safe: bool = True
    accept: str = "application/json"

    @property
    def wants_json(self) -> bool:
        """True when every media type the call accepts is JSON (a download asks for others)."""
        return all(is_json_type(part.split(";")[0]) for part in self.accept.split(","))


def is_json_type(media_type: str) -> bool:
    media_type = media_type.strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class Failure(NamedTuple):
    """An attempt that got no usable HTTP answer, as the retry policy needs to see it."""

    text: str  # describe_failure(exc): never the exception itself (it may hold the auth header)
    reached_vendor: bool  # False only when not a byte of the request can have left
    timed_out: bool


# ---- deadline -----------------------------------------------------------------------------------

# Epoch seconds by which every call must be over, or None. A ContextVar, so each asyncio task and
# each thread sees only the deadline it set itself.
_DEADLINE: ContextVar[float | None] = ContextVar("monitoring_http_deadline", default=None)


@contextmanager
def deadline_at(when: float | None) -> Iterator[None]:
    """Within the block, HTTP calls end by ``when`` (epoch seconds, ``time.time()``) or raise
    DeadlineReached; None sets none. Blocks nest: the earlier deadline holds, so an inner block
    cannot lift the deadline of the code that called it."""
    outer = _DEADLINE.get()
    token = _DEADLINE.set(when if outer is None else outer if when is None else min(outer, when))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def seconds_left() -> float | None:
    """Seconds until the deadline (negative once it has passed); None when no deadline is set."""
    when = _DEADLINE.get()
    return None if when is None else when - time.time()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (fractions tolerated) or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP dates are always GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_QUERY = re.compile(r"\?[^\s)'\"]*")


def describe_failure(exc: BaseException) -> str:
    """A transport exception as text for a message: its type and words, with any query string cut
    (queries may carry user data; the path says enough)."""
    return f"{type(exc).__name__}: {_QUERY.sub('', str(exc))}".strip().rstrip(":")


class Attempts:
    """Tracks the attempts of one call and decides, after each failure, to wait or to give up."""

    def __init__(self, call: Call, policy: RetryPolicy, vendor: str, timeout: float):
        self.call = call
        self.policy = policy
        self.vendor = vendor
        self.timeout = timeout
        self.retries_done = 0
        self._budget = timeout
        self._cut_by_deadline = False

    def error(self, cls: type[ApiError], status: int | None, message: str, body: Any = None, **kw: Any) -> ApiError:
        # ApiError redacts the message and the body itself.
        return cls(
            vendor=self.vendor, method=self.call.method, path=self.call.path,
            status=status, vendor_message=message, body=body, **kw,
        )

    def deadline_reached(self, waiting: str) -> DeadlineReached:
        return DeadlineReached(self.vendor, self.call.method, self.call.path, waiting)

    def budget(self) -> float:
        """Seconds the next attempt may take in all: the request timeout, cut to the time left
        before the deadline. Raises DeadlineReached, before anything is sent, when none is left."""
        left = seconds_left()
        self._cut_by_deadline = left is not None and left < self.timeout
        if left is None:
            return self.timeout
        if left <= 0:
            raise self.deadline_reached(f"waiting to send the request ({-left:.1f} s ago); nothing was sent")
        self._budget = min(self.timeout, left)
        return self._budget

    def after_status(self, status: int, headers: Mapping[str, str], body: Any, text: str) -> float:
        """Delay before the next attempt after an error status, or raise the final error."""
        message = vendor_message(body, text)
        retry_after = parse_retry_after(headers.get("Retry-After"))
        cls = error_class_for(status)
        if status not in RETRY_STATUSES:
            raise self.error(cls, status, message, body)
        if not self.call.resend_safe and status not in REFUSED_STATUSES:
            raise self.error(AmbiguousRequestError, status, message, body)
        if self.retries_done >= self.policy.max_retries:
            raise self.error(cls, status, self._spent(message), body, retry_after=retry_after)
        if retry_after is not None:
            if retry_after > self.policy.max_retry_after:
                raise self.error(
                    RateLimitedError if status == 429 else cls,
                    status,
                    f"{message}; asked to wait {retry_after:.0f} s, more than the {self.policy.max_retry_after:.0f} s "
                    "this provider sleeps through",
                    body,
                    retry_after=retry_after,
                )
            delay = retry_after
        else:
            delay = self.policy.backoff(self.retries_done + 1)
        return self._next(f"HTTP {status}", delay)

    def after_exception(self, failure: Failure) -> float:
        """Delay before the next attempt after a transport failure, or raise the final error.

        Callers pass a Failure (text, not the exception) and call this outside their ``except``
        block: a requests exception holds the prepared request, auth header included, and chaining
        it as the cause or context would carry the key to any reporter that walks exception
        attributes.
        """
        detail = redact(failure.text)
        if failure.timed_out and self._cut_by_deadline:
            # The request's own timeout was longer: the deadline cut it, not a slow vendor.
            maybe_sent = "" if self.call.resend_safe else "; it may have reached the vendor, and was not re-sent"
            raise self.deadline_reached(
                f"waiting for an answer (the request was cut after {self._budget:.1f} s){maybe_sent}"
            ) from None
        if failure.reached_vendor and not self.call.resend_safe:
            raise self.error(AmbiguousRequestError, None, detail) from None
        if self.retries_done >= self.policy.max_retries:
            raise self.error(TransportError, None, self._spent(detail)) from None
        return self._next(failure.text.split(":", 1)[0], self.policy.backoff(self.retries_done + 1))

    def after_unreadable(self, status: int, content_type: str, text: str) -> float:
        """Delay before the next attempt after a 2xx whose body should be JSON and is not, or
        raise. A read is safe to repeat, so it is retried like a 5xx (a proxy's or a load
        balancer's page is often a passing fault). Anything else is never re-sent: the 2xx says the
        vendor did act, so the error is not "ambiguous", only the answer is lost."""
        message = not_json(text, content_type)
        if not self.call.resend_safe:
            raise self.error(
                UnexpectedResponseError, status,
                f"{message}; the vendor accepted the request but its answer could not be read "
                "(not re-sent: it was done once)",
                text,
            )
        if self.retries_done >= self.policy.max_retries:
            raise self.error(UnexpectedResponseError, status, self._spent(message), text)
        return self._next(f"HTTP {status} with a body that is not JSON", self.policy.backoff(self.retries_done + 1))

    def _next(self, why: str, delay: float) -> float:
        left = seconds_left()
        if left is not None and delay >= left:
            raise self.deadline_reached(
                f"waiting to retry after {why}: the wait of {delay:.1f} s would end past it "
                f"({max(left, 0.0):.1f} s were left)"
            )
        self.retries_done += 1
        log.warning(
            "%s API %s on %s %s; retry %d of %d in %.1f s",
            self.vendor, why, self.call.method, self.call.path,
            self.retries_done, self.policy.max_retries, delay,
        )
        return delay

    def _spent(self, message: str) -> str:
        tries = self.retries_done + 1
        suffix = f"gave up after {tries} attempt{'s' if tries > 1 else ''}"
        return f"{message}; {suffix}" if message else suffix

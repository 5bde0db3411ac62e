"""When to try a request again, and how long to wait first.

The policy is written once and driven by both the sync (requests) and the async (aiohttp) client:
each attempt's outcome goes in, and either a delay or the error to raise comes out.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Mapping

from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    ApiError,
    RateLimitedError,
    TransportError,
    error_class_for,
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

    def __init__(self, call: Call, policy: RetryPolicy, vendor: str, secret: str):
        self.call = call
        self.policy = policy
        self.vendor = vendor
        self.secret = secret
        self.retries_done = 0

    def error(self, cls: type[ApiError], status: int | None, message: str, body: Any = None, **kw: Any) -> ApiError:
        return cls(
            vendor=self.vendor,
            method=self.call.method,
            path=self.call.path,
            status=status,
            vendor_message=self.redact(message),
            body=self._redact_body(body),
            **kw,
        )

    def redact(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret and text else text

    def _redact_body(self, body: Any) -> Any:
        if self.secret and isinstance(body, str) and self.secret in body:
            return self.redact(body)
        if self.secret and body is not None and not isinstance(body, str) and self.secret in repr(body):
            return "<redacted: the body echoed the API key>"
        return body

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

    def after_exception(self, failure: str, reached_vendor: bool) -> float:
        """Delay before the next attempt after a transport failure (``describe_failure`` of it),
        or raise the final error.

        Callers pass the text, not the exception, and call this outside their ``except`` block:
        a requests exception holds the prepared request, auth header included, and chaining it as
        the cause or context would carry the key to any reporter that walks exception attributes.
        """
        detail = self.redact(failure)
        if reached_vendor and not self.call.resend_safe:
            raise self.error(AmbiguousRequestError, None, detail) from None
        if self.retries_done >= self.policy.max_retries:
            raise self.error(TransportError, None, self._spent(detail)) from None
        return self._next(failure.split(":", 1)[0], self.policy.backoff(self.retries_done + 1))

    def _next(self, why: str, delay: float) -> float:
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

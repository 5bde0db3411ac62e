"""An Airflow retry policy that knows this provider's errors.

Airflow 3.3 lets a task carry a ``retry_policy``: after a failure the worker hands it the actual
exception, and its decision can fail the task at once (no retry spent), retry it after a delay of
its own choosing, or leave the task's ``retries`` / ``retry_delay`` to decide. The HTTP layer has
already retried what a retry can fix within one try (429, 5xx, dropped connections, with backoff
and Retry-After), so what reaches the task is either final or worth waiting longer for:

- 401 / 403 (``AuthenticationError``, ``PermissionDeniedError``): fail now, the key will not fix
  itself.
- 404 (``NotFoundError``, also its status-less "not found in the listing" variant): fail now, the
  object does not exist.
- 400 / 405 / 413 / 422 (``BadRequestError``, ``ValidationError``): fail now, the request is wrong.
- ``ConfigurationError`` (an unusable connection or argument, found before any request): fail now.
- 429 (``RateLimitedError``) and 503 (``ServerError``): retry, after the vendor's Retry-After when
  the error carries one (capped by ``max_delay``), else after the task's own ``retry_delay``.
- anything else (500, timeouts, conflicts, a bug in the task): the task's ``retries`` decide.

A "fail now" decision's reason names the error class and its status; Airflow logs it.

A retry the policy asks for is still bounded by the task's ``retries``: a policy can only spend
fewer tries, never more. ``AirflowFailException`` and ``AirflowSensorTimeout`` never reach a
policy (Airflow fails them before asking).

Not only this provider's exceptions are classified: any exception carrying an integer HTTP
``status`` attribute (and optionally ``retry_after`` in seconds) follows the same status rules, so
an error that wraps an API error and copies its status along (the wait machinery does this when a
deferred wait ends on an API error) is treated like the API error itself. A ``not_found = True``
attribute without a status counts as a 404.

Causes. A task that catches one of these errors and raises its own with ``raise Mine(...) from
err`` would hide it, so when the exception itself is not recognised (no status, not one of ours)
the policy looks at its ``__cause__``, ``cause_depth`` levels down (one by default). Only explicit
causes are followed, never the implicit ``__context__``: an exception raised *while handling* a
404 (a task that catches the 404 to create the missing object, then trips over a bug or a lock of
its own) is not a 404, and failing it without a retry would be wrong. The first recognised exception in the chain decides, even when its
verdict is "the task's retries decide".

Use it on any task or operator::

    from airflow_provider_monitoring.policies import MonitoringRetryPolicy

    @task(retries=3, retry_policy=MonitoringRetryPolicy())
    def check_monitor(): ...

On an Airflow without retry policies (before 3.3) this module still imports,
``RETRY_POLICIES_SUPPORTED`` is False, ``default_retry_policy`` leaves keyword arguments alone and
constructing ``MonitoringRetryPolicy`` raises a ``RuntimeError`` that says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_monitoring._http.errors import ConfigurationError, NotFoundError

try:  # Airflow 3.3+
    from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy
except ImportError:  # Airflow 2, or 3.0 - 3.2: no retry policies
    RetryDecision = None  # type: ignore[assignment,misc]
    RetryPolicy = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

__all__ = [
    "DEFAULT_FAIL_STATUSES",
    "DEFAULT_MAX_DELAY",
    "DEFAULT_RATE_LIMIT_STATUSES",
    "RETRY_POLICIES_SUPPORTED",
    "MonitoringRetryPolicy",
    "default_retry_policy",
]

#: True when this Airflow has ``airflow.sdk.definitions.retry_policy`` (Airflow 3.3+), i.e. when
#: operators accept ``retry_policy``.
RETRY_POLICIES_SUPPORTED = RetryPolicy is not None

#: Statuses no retry can change: the key (401, 403), the object (404), the request (400, 405, 413,
#: 422). The same statuses the HTTP layer maps to AuthenticationError, PermissionDeniedError,
#: NotFoundError, BadRequestError and ValidationError.
DEFAULT_FAIL_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 422})
#: Statuses with which the vendor refused before acting and asked to come back later.
DEFAULT_RATE_LIMIT_STATUSES = frozenset({429, 503})
#: The longest Retry-After honoured, as Airflow's own ceiling on a retry delay (24 hours).
DEFAULT_MAX_DELAY = timedelta(hours=24)

_TYPE_NAME = "MonitoringRetryPolicy"

_WHY_NOT_RETRIED = {
    401: "the API key is missing, wrong or revoked",
    403: "the API key may not do this",
    404: "the object does not exist",
}
_WHY_INVALID = "the request is invalid"
_INVALID = frozenset({400, 405, 413, 422})


class MonitoringRetryPolicy(RetryPolicy if RETRY_POLICIES_SUPPORTED else object):  # type: ignore[misc]
    """Fail at once on errors a retry cannot fix, honour the vendor's Retry-After on rate limits,
    and leave everything else to the task's ``retries``. The module documentation lists the
    rules.

    :param fail_statuses: HTTP statuses that fail the task without spending a retry. Default
        ``DEFAULT_FAIL_STATUSES``: 400, 401, 403, 404, 405, 413, 422. Add 402 to stop retrying an
        exhausted credit balance, or 409 for conflicts.
    :param rate_limit_statuses: HTTP statuses retried after the error's ``retry_after`` (when it
        has one; otherwise after the task's ``retry_delay``). Default
        ``DEFAULT_RATE_LIMIT_STATUSES``: 429 and 503. Must not overlap ``fail_statuses``.
    :param max_delay: The longest Retry-After honoured (a ``timedelta`` or seconds; ``None`` for
        no ceiling). A longer one is cut to this. The task's own ``max_retry_delay``, when set,
        caps it too. Default 24 hours.
    :param cause_depth: How many ``__cause__`` levels to look through when the exception itself is
        not recognised (``raise TaskError(...) from api_error``). ``0`` looks at the exception
        only. Default 1.

    ``ConfigurationError`` (an unusable connection or argument, found before any request) always
    fails at once.
    """

    def __init__(
        self,
        fail_statuses: Iterable[int] | None = None,
        rate_limit_statuses: Iterable[int] | None = None,
        max_delay: timedelta | float | None = DEFAULT_MAX_DELAY,
        cause_depth: int = 1,
    ) -> None:
        if not RETRY_POLICIES_SUPPORTED:
            raise RuntimeError(
                "MonitoringRetryPolicy needs Airflow 3.3 or later (airflow.sdk.definitions.retry_policy); "
                "this Airflow has no retry policies. Use the task's retries, or "
                "airflow_provider_monitoring.policies.default_retry_policy, which adds the policy only "
                "where Airflow supports it."
            )
        self.fail_statuses = _statuses(fail_statuses, DEFAULT_FAIL_STATUSES, "fail_statuses")
        self.rate_limit_statuses = _statuses(rate_limit_statuses, DEFAULT_RATE_LIMIT_STATUSES, "rate_limit_statuses")
        both = self.fail_statuses & self.rate_limit_statuses
        if both:
            raise ConfigurationError(
                f"MonitoringRetryPolicy: statuses {sorted(both)} are in both fail_statuses and rate_limit_statuses"
            )
        self.max_delay = _delay(max_delay)
        if isinstance(cause_depth, bool) or not isinstance(cause_depth, int) or cause_depth < 0:
            raise ConfigurationError(f"MonitoringRetryPolicy: cause_depth must be an integer >= 0, got {cause_depth!r}")
        self.cause_depth = cause_depth

    # ---- the decision -------------------------------------------------------------------------

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        """The decision for ``exception`` (see the module documentation). ``try_number`` and
        ``max_tries`` do not change it: Airflow itself stops a RETRY once the tries are spent."""
        found = _recognised(exception, self.cause_depth)
        if found is None:
            return RetryDecision.default()
        exc, status = found
        where = _describe(exception, exc, status)
        if isinstance(exc, ConfigurationError):
            return RetryDecision.fail(f"{where}: the configuration is unusable; failed without spending a retry")
        if status is None:
            return RetryDecision.default()
        if status in self.fail_statuses:
            why = _WHY_NOT_RETRIED.get(status, _WHY_INVALID if status in _INVALID else "a retry cannot change the answer")
            return RetryDecision.fail(f"{where}: {why}; failed without spending a retry")
        if status in self.rate_limit_statuses:
            retry_after = _retry_after(exc)
            if retry_after is None:
                return RetryDecision.retry(reason=f"{where}: rate limited, no Retry-After; the task's retry_delay applies")
            delay = timedelta(seconds=retry_after)
            ceiling = self._ceiling(context)
            if ceiling is not None and delay > ceiling:
                return RetryDecision.retry(
                    delay=ceiling,
                    reason=f"{where}: rate limited; retrying in {_seconds(ceiling)} "
                    f"(the vendor asked for {_seconds(delay)}, cut to the ceiling)",
                )
            return RetryDecision.retry(delay=delay, reason=f"{where}: rate limited; retrying in {_seconds(delay)} as the vendor asked")
        return RetryDecision.default()

    def _ceiling(self, context: Any) -> timedelta | None:
        ceilings = [self.max_delay] if self.max_delay is not None else []
        task = _get(context, "task")
        task_max = getattr(task, "max_retry_delay", None)
        if isinstance(task_max, (int, float)) and not isinstance(task_max, bool):
            task_max = timedelta(seconds=task_max)
        if isinstance(task_max, timedelta):
            ceilings.append(task_max)
        return min(ceilings) if ceilings else None

    # ---- serialization ------------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """A plain JSON dict; :meth:`deserialize` rebuilds an equal policy from it. (Airflow 3.3
        stores only whether a task has a policy; the worker runs the DAG file's own object.)"""
        return {
            "__type": _TYPE_NAME,
            "__module": __name__,
            "fail_statuses": sorted(self.fail_statuses),
            "rate_limit_statuses": sorted(self.rate_limit_statuses),
            "max_delay": None if self.max_delay is None else self.max_delay.total_seconds(),
            "cause_depth": self.cause_depth,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MonitoringRetryPolicy:
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{_TYPE_NAME}.deserialize expects a dict, got {type(data).__name__}")
        kind = data.get("__type", _TYPE_NAME)
        if kind != _TYPE_NAME:
            raise ConfigurationError(f"{_TYPE_NAME}.deserialize got a serialized {kind!r}")
        return cls(
            fail_statuses=data.get("fail_statuses"),
            rate_limit_statuses=data.get("rate_limit_statuses"),
            max_delay=data.get("max_delay", DEFAULT_MAX_DELAY),
            cause_depth=data.get("cause_depth", 1),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.fail_statuses, self.rate_limit_statuses, self.max_delay, self.cause_depth))

    def __repr__(self) -> str:
        return (
            f"{_TYPE_NAME}(fail_statuses={sorted(self.fail_statuses)}, "
            f"rate_limit_statuses={sorted(self.rate_limit_statuses)}, "
            f"max_delay={self.max_delay!r}, cause_depth={self.cause_depth})"
        )


def default_retry_policy(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``retry_policy`` set to a ``MonitoringRetryPolicy()``, for operator
    constructors: ``super().__init__(**default_retry_policy(kwargs))``.

    Left as they are (a copy is returned either way, the caller's dict is never changed) when the
    caller passed ``retry_policy`` at all (``retry_policy=None`` is an explicit opt-out), when the
    DAG's or task group's ``default_args`` set it (Airflow hands the merged ``default_args`` to
    the constructor among the keyword arguments), and on an Airflow without retry policies, whose
    operators would reject the argument.
    """
    kwargs = dict(kwargs)
    if not RETRY_POLICIES_SUPPORTED or "retry_policy" in kwargs:
        return kwargs
    default_args = kwargs.get("default_args")
    if isinstance(default_args, Mapping) and "retry_policy" in default_args:
        return kwargs
    kwargs["retry_policy"] = MonitoringRetryPolicy()
    return kwargs


# ---- helpers ------------------------------------------------------------------------------------


def _status_of(exc: BaseException) -> int | None:
    """The exception's HTTP status: its integer ``status`` (100-599), else 404 for a status-less
    not-found (our NotFoundError from a listing, or ``not_found = True``); None otherwise."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    if isinstance(exc, NotFoundError) or getattr(exc, "not_found", False) is True:
        return 404
    return None


def _recognised(exception: BaseException, depth: int) -> tuple[BaseException, int | None] | None:
    """The first exception of ``exception`` and its ``__cause__`` chain (``depth`` levels) that
    the policy recognises, with its status; None when none is."""
    current: BaseException | None = exception
    seen: set[int] = set()
    for _ in range(depth + 1):
        if current is None or id(current) in seen:
            return None
        seen.add(id(current))
        status = _status_of(current)
        if status is not None or isinstance(current, ConfigurationError):
            return current, status
        current = current.__cause__
    return None


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if value != value or value < 0 or value == float("inf"):  # NaN, negative or infinite: no usable value
        return None
    return value


def _describe(outer: BaseException, exc: BaseException, status: int | None) -> str:
    """``NotFoundError (HTTP 404)``, ``NotFoundError (not found in the listing)``,
    ``WaitError caused by RateLimitedError (HTTP 429)``: names the class and the status."""
    if getattr(exc, "status", None) == status and status is not None:
        shown = f"HTTP {status}"
    elif isinstance(exc, ConfigurationError):
        shown = "no HTTP status; raised before any request"
    elif status == 404:
        shown = getattr(exc, "without_status", "not found, no HTTP status")
    else:
        shown = "no HTTP status"
    text = f"{type(exc).__name__} ({shown})"
    if exc is not outer:
        text = f"{type(outer).__name__} caused by {text}"
    return text


def _seconds(delay: timedelta) -> str:
    return f"{delay.total_seconds():g} s"


def _get(context: Any, key: str) -> Any:
    try:
        return context[key] if context is not None else None
    except (KeyError, TypeError):
        return None


def _statuses(value: Iterable[int] | None, default: frozenset[int], name: str) -> frozenset[int]:
    if value is None:
        return default
    if isinstance(value, (str, bytes, int)):
        raise ConfigurationError(f"MonitoringRetryPolicy: {name} must be a collection of HTTP statuses, got {value!r}")
    statuses = frozenset(value)
    bad = [s for s in statuses if isinstance(s, bool) or not isinstance(s, int) or not 100 <= s <= 599]
    if bad:
        raise ConfigurationError(f"MonitoringRetryPolicy: {name} holds values that are not HTTP statuses: {bad!r}")
    return statuses


def _delay(value: timedelta | float | None) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ConfigurationError(f"MonitoringRetryPolicy: max_delay must be a timedelta or seconds >= 0, got {value!r}")
    return value

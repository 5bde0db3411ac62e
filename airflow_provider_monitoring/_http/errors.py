"""One exception hierarchy for every vendor.

Every message names the vendor, the HTTP status, the method and the path, followed by what the
vendor said. The query string is left out of the path on purpose: it can carry user data, and the
path alone says which call failed.
"""

from __future__ import annotations

import json
import threading
from typing import Any


class MonitoringError(Exception):
    """Base of every error raised by this provider."""


# ---- redaction ------------------------------------------------------------------------------------

# Every API key this process has read from a connection. Errors are built in many places that
# never see the settings (page walkers, hooks checking a body's shape), and a wrong host may echo
# the request headers back in a 200: so every error redacts every known key, not just its own.
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
REDACTED = "***"


def register_secret(secret: str) -> None:
    """Remember ``secret`` so that ``redact`` hides it from every message and body from now on."""
    if secret:
        with _SECRETS_LOCK:
            _SECRETS.add(secret)


def redact(value: Any) -> Any:
    """``value`` with every known API key replaced by ``***``: text, and the strings inside a decoded
    JSON body (keys and values). Anything else whose repr still shows a key is replaced whole."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)  # a key inside a longer key: the longer first
    return _redact(value, secrets) if secrets else value


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(item, secrets) for item in value]
    if value is not None and any(secret in repr(value) for secret in secrets):
        return "<redacted: the body echoed the API key>"
    return value


def excerpt(body: Any, limit: int = 300) -> str:
    """A body as one line of at most ``limit`` characters for a message: redacted first, then cut
    (cutting first could leave the start of a key in view), white space folded."""
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    text = " ".join(redact(text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def not_json(text: str, content_type: str = "") -> str:
    """What to say of a body that should have been JSON and was not."""
    if not (text or "").strip():
        return "the body was empty"
    kind = f" ({content_type})" if content_type else ""
    return f"the body was not JSON{kind}: {excerpt(text, 200)}"


class ConfigurationError(MonitoringError, ValueError):
    """A connection or argument is unusable; raised before any request is sent."""


class ApiError(MonitoringError):
    """The vendor answered with an error status (or never answered usefully)."""

    def __init__(
        self,
        vendor: str,
        method: str,
        path: str,
        status: int | None = None,
        vendor_message: str = "",
        body: Any = None,
        retry_after: float | None = None,
    ):
        self.vendor = vendor
        self.method = method
        self.path = path
        self.status = status
        # Redacted here, whoever builds the error: the message and body may come from anywhere.
        self.vendor_message = redact(vendor_message)
        self.body = redact(body)
        self.retry_after = retry_after
        super().__init__(self._compose())

    # What stands in place of "HTTP <status>" when there is no status to show.
    without_status = "no response"

    def _compose(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else self.without_status
        text = f"{self.vendor} API {status} on {self.method} {self.path}"
        if self.vendor_message:
            text += f": {self.vendor_message}"
        hint = self.hint()
        if hint:
            text += f" ({hint})"
        return text

    def hint(self) -> str:
        return ""


class BadRequestError(ApiError):
    """400 / 405 / 413: the request itself is wrong."""


class ValidationError(BadRequestError):
    """422 (and 400 bodies carrying field errors): the vendor rejected a field."""


class AuthenticationError(ApiError):
    """401: the API key is missing, wrong or revoked."""

    def hint(self) -> str:
        return "check the API key of the connection"


class PermissionDeniedError(ApiError):
    """403: the key is valid but may not do this."""


class InsufficientCreditsError(ApiError):
    """402: the workspace has run out of credits. Never retried."""


class NotFoundError(ApiError):
    """404: no such object (Datafold also answers 404 to some bad keys). Also raised, without a
    status, when an object is missing from a listing walked to its end (for APIs that have no
    get-by-id endpoint)."""

    without_status = "not found in the listing"


class ConflictError(ApiError):
    """409: the object already exists or is busy."""


class RateLimitedError(ApiError):
    """429 after every retry was spent."""


class ServerError(ApiError):
    """5xx after every retry was spent."""


class TransportError(ApiError):
    """No usable HTTP response: connection refused, reset, timeout, DNS failure."""


class AmbiguousRequestError(ApiError):
    """A request that creates something or costs credits failed in a way that leaves open whether
    the vendor acted on it (timeout, reset, 500/502/504). It was not re-sent, so it cannot have
    happened twice; look the object up before trying again. (429 and 503 mean the vendor refused
    before acting, and a connection never opened sent nothing: those are re-sent.)"""

    def hint(self) -> str:
        return "not re-sent because the vendor may already have acted on it; check before retrying"


class UnexpectedResponseError(ApiError):
    """A 2xx answer whose body lacks what the documented contract promises (or is not JSON)."""


class DeadlineReached(MonitoringError):
    """The deadline set with ``retry.deadline_at`` came while the HTTP layer was waiting: to
    retry, or for an answer. Not an ApiError: the vendor said nothing wrong, time ran out."""

    def __init__(self, vendor: str, method: str, path: str, waiting: str):
        self.vendor, self.method, self.path, self.waiting = vendor, method, path, waiting
        super().__init__(f"{vendor} API {method} {path}: the deadline came while {waiting}")


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: BadRequestError,
    409: ConflictError,
    413: BadRequestError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_class_for(status: int) -> type[ApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return ApiError


def vendor_message(body: Any, text: str = "") -> str:
    """Pull the vendor's own words out of any documented error body shape.

    Shapes seen in the vendor notes: ``{"error": str}`` (Encrata standard, Diligent),
    ``{"c": int, "m": str}`` (Encrata agent paths), ``{"errors": [{"path", "message", "code"}]}``
    (Diligent validation), ``{"detail": str | [{"loc", "msg", "type"}]}`` (Datafold/FastAPI),
    ``{"message": str}``, plus the bulk-create ``duplicates`` list. Anything else (an HTML page from
    a proxy, plain text) is returned trimmed, so the user still sees what came back.
    """
    if isinstance(body, dict):
        parts: list[str] = []
        for key in ("error", "m", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                parts.append(value.strip())
                break
            if isinstance(value, dict):
                parts.append(vendor_message(value))
                break
        detail = body.get("detail")
        if isinstance(detail, str) and detail.strip():
            parts.append(detail.strip())
        elif isinstance(detail, list):
            parts.extend(_field_error(item) for item in detail)
        errors = body.get("errors")
        if isinstance(errors, list):
            parts.extend(_field_error(item) for item in errors)
        elif isinstance(errors, str):
            parts.append(errors)
        duplicates = body.get("duplicates")
        if isinstance(duplicates, list) and duplicates:
            sites = ", ".join(
                f"{d.get('website')} (index {d.get('index')})" if isinstance(d, dict) else str(d)
                for d in duplicates
            )
            parts.append(f"duplicates: {sites}")
        parts = [p for p in parts if p]
        if parts:
            return "; ".join(parts)
        return excerpt(body)
    if isinstance(body, list):
        return "; ".join(_field_error(item) for item in body) or excerpt(text)
    return excerpt(text)


def _field_error(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = item.get("loc", item.get("path"))
    message = item.get("msg", item.get("message", ""))
    if isinstance(where, list):
        where = ".".join(str(part) for part in where)
    return f"{where}: {message}" if where else str(message)


# Failures that concern the account or the connection, not one object: whoever reads anything else
# on the same connection would meet them too (the shared reads of waits and watchers hand them to
# all; any other failure of a shared read concerns what that read asked for).
ACCOUNT_ERRORS = (AuthenticationError, PermissionDeniedError, RateLimitedError, ServerError, TransportError,
                  UnexpectedResponseError)

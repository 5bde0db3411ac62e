"""What the three vendor emulators share: configuration, outcome rules, faults, time, ids, state.

The sandbox serves all three vendors on one port, each under its own path prefix
(``/encrata``, ``/diligent``, ``/datafold``), so one process backs the three connections.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

VENDORS = ("encrata", "diligent", "datafold")
DEFAULT_API_KEY = "sandbox-api-key"


@dataclass
class OutcomeRule:
    """How runs of matching objects end.

    ``vendor``: one of VENDORS or "*". ``match``: a glob tried against the object's id, name,
    website and targets ("*" matches everything). ``outcome``: the terminal state, in the vendor's
    own vocabulary (Encrata ``success``/``failed``, Diligent ``ok``/``alert``/``failed``, Datafold
    ``ok``/``alert``/``error``/``cancelled`` or any string). ``seconds``: how long a run takes.
    """

    vendor: str = "*"
    match: str = "*"
    outcome: str | None = None  # None: the vendor's default outcome (a rule may set only seconds)
    seconds: float | None = None

    def applies(self, vendor: str, keys: list[str]) -> bool:
        if self.vendor not in ("*", vendor):
            return False
        return any(fnmatch.fnmatchcase(str(key), self.match) for key in keys if key is not None)


@dataclass
class FaultRule:
    """A fault answered instead of the real reply to matching requests.

    ``kind``: "status" (reply ``status`` with an error body), "retry_after" (429 with Retry-After
    ``retry_after``), "slow" (delay ``delay`` seconds, then answer normally), "malformed" (a 200
    HTML page), "malformed_json" (a 200 labelled JSON whose body is broken JSON), "drop" (close the
    connection without an answer). ``method``/``path``: globs
    on the method and the full request path (``/encrata/api/monitors*``). ``times``: how many
    requests to hit (None = all).
    """

    kind: str
    method: str = "*"
    path: str = "*"
    status: int = 500
    retry_after: float = 1.0
    delay: float = 1.0
    times: int | None = None

    def applies(self, request: web.Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return fnmatch.fnmatchcase(request.method, self.method) and fnmatch.fnmatchcase(request.path, self.path)


# Vendor-specific outcome words each emulator understands as "the default".
DEFAULT_OUTCOMES = {"encrata": "success", "diligent": "ok", "datafold": "ok"}


@dataclass
class SandboxConfig:
    api_key: str = DEFAULT_API_KEY
    run_seconds: float = 2.0  # how long a run stays in progress unless a rule says otherwise
    rules: list[OutcomeRule] = field(default_factory=list)
    faults: list[FaultRule] = field(default_factory=list)
    state_file: str | None = None

    def outcome(self, vendor: str, *keys: Any) -> tuple[str, float]:
        """The first matching rule's (outcome, seconds), else the vendor default."""
        names = [str(k) for k in keys if k is not None]
        for rule in self.rules:
            if rule.applies(vendor, names):
                outcome = rule.outcome or DEFAULT_OUTCOMES[vendor]
                return outcome, self.run_seconds if rule.seconds is None else rule.seconds
        return DEFAULT_OUTCOMES[vendor], self.run_seconds


class Context:
    """Handed to every vendor app: config, the vendor's state dict, the clock, ids, saving."""

    def __init__(self, config: SandboxConfig, state: dict[str, dict[str, Any]], save: Callable[[], None]):
        self.config = config
        self.state = state
        self._save = save
        # What was asked, oldest first (bounded): tests check what went over the wire.
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)

    @staticmethod
    def now() -> float:
        return time.time()

    @staticmethod
    def iso(moment: float | None = None, millis: bool = False) -> str:
        moment = time.time() if moment is None else moment
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
        if millis:
            text += f".{int(moment * 1000) % 1000:03d}"
        return text + "Z"

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())

    def next_int(self, vendor: str, kind: str) -> int:
        """Increasing integer ids per vendor and kind (Datafold ids are integers)."""
        counters = self.state[vendor].setdefault("_counters", {})
        counters[kind] = counters.get(kind, 0) + 1
        return counters[kind]

    def saved(self) -> None:
        self._save()


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """An error in the shape the vendor behind ``path`` documents, so an injected fault reads
    like the real thing: Encrata agent paths ``{"c", "m"}``, Datafold ``{"detail"}``, the rest
    ``{"error"}``."""
    if path.startswith("/encrata/api/agent/"):
        return {"c": status, "m": message}
    if path.startswith("/datafold/"):
        return {"detail": message}
    return {"error": message}


def request_log_middleware(context: Context):
    @web.middleware
    async def record(request: web.Request, handler):
        context.requests.append((request.method, request.path))
        return await handler(request)

    return record


def fault_middleware(config: SandboxConfig):
    @web.middleware
    async def apply_faults(request: web.Request, handler):
        for rule in config.faults:
            if not rule.applies(request):
                continue
            if rule.times is not None:
                rule.times -= 1
            if rule.kind == "slow":
                await asyncio.sleep(rule.delay)
                break
            if rule.kind == "retry_after":
                body = error_body(request.path, 429, "rate limit exceeded")
                return json_reply(body, 429, {"Retry-After": f"{rule.retry_after:g}"})
            if rule.kind == "status":
                return json_reply(error_body(request.path, rule.status, f"sandbox fault {rule.status}"), rule.status)
            if rule.kind == "malformed":
                return web.Response(text="<html>sandbox: not json</html>", content_type="text/html")
            if rule.kind == "malformed_json":
                return web.Response(text='{"items": [', content_type="application/json")
            if rule.kind == "drop":
                transport = request.transport
                if transport is not None:
                    transport.close()
                raise asyncio.CancelledError
        return await handler(request)

    return apply_faults


def load_state(path: str | None) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {vendor: {} for vendor in VENDORS}
    if path:
        try:
            with open(path) as handle:
                state.update(json.load(handle))
        except FileNotFoundError:
            pass
    return state


_save_lock = threading.Lock()


def saver(path: str | None, state: dict[str, Any]) -> Callable[[], None]:
    def save() -> None:
        if not path:
            return
        with _save_lock:
            tmp = f"{path}.tmp"
            with open(tmp, "w") as handle:
                json.dump(state, handle, default=str)
            os.replace(tmp, path)

    return save

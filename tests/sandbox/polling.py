"""Waiting in the sandbox's tests: runs end by the clock, so a test polls what it expects (bounded)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(probe: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until ``probe`` returns something truthy, and return it; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up after {timeout}s")

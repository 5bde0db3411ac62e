"""A bounded poll for the example tasks that call the hooks directly (operators and sensors
defer instead)."""

from __future__ import annotations

import time

POLL_SECONDS = 0.5
WAIT_LIMIT = 60


def wait_until(read, done, what: str):
    """Call ``read()`` until ``done(value)``; raise TimeoutError after WAIT_LIMIT seconds."""
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {WAIT_LIMIT} s; last seen {value!r}")
        time.sleep(POLL_SECONDS)

"""The one wait loop and event contract every vendor's trigger and sensor use."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_provider_monitoring._http.errors import ServerError
from airflow_provider_monitoring._waiting import (
    ALERT, FAILED, RUNNING, SUCCESS, EventError, RunState, make_event, run_state, settle, validate_event,
    wait_for_run,
)

TABLE = {"pending": RUNNING, "running": RUNNING, "success": SUCCESS, "failed": FAILED, "alert": ALERT}


class FakeTime:
    """A wall clock that only moves when the loop sleeps, and a record of every sleep."""

    def __init__(self, start: float = 1_000.0):
        self.now, self.sleeps = start, []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def reader(states: list[str], at: FakeTime | None = None, reads: list | None = None):
    queue = list(states)

    async def read() -> RunState:
        if reads is not None and at is not None:
            reads.append(at.now)
        raw = queue.pop(0) if len(queue) > 1 else queue[0]
        return run_state("Acme", TABLE, raw, {"id": "r1", "status": raw})

    return read


async def wait(read, fake: FakeTime, deadline: float, poll: float = 10.0) -> dict:
    return await wait_for_run(read, vendor="acme", monitor_id="m1", run_id="r1", deadline=deadline,
                              poll_interval=poll, sleep=fake.sleep, clock=fake.clock)


async def test_waits_while_running_then_reports_the_outcome():
    fake = FakeTime()
    event = await wait(reader(["pending", "running", "success"]), fake, deadline=fake.now + 600)
    assert fake.sleeps == [10.0, 10.0]
    assert event == {"status": "success", "vendor": "acme", "monitor_id": "m1", "run_id": "r1",
                     "vendor_state": "success", "run": {"id": "r1", "status": "success"},
                     "message": "acme run r1 ended 'success'"}


async def test_reads_once_more_at_the_deadline_before_a_timeout():
    fake, reads = FakeTime(), []
    event = await wait(reader(["running"], fake, reads), fake, deadline=fake.now + 25)
    assert fake.sleeps == [10.0, 10.0, 5.0]
    assert reads == [1000.0, 1010.0, 1020.0, 1025.0]  # the last read is at the deadline itself
    assert event["status"] == "timeout" and "still 'running' at the deadline" in event["message"]


async def test_a_run_that_ends_exactly_at_the_deadline_is_not_a_timeout():
    fake = FakeTime()
    event = await wait(reader(["running", "running", "failed"]), fake, deadline=fake.now + 15)
    assert event["status"] == "failed" and fake.sleeps == [10.0, 5.0]


async def test_a_deadline_already_past_reads_once_and_reports():
    fake = FakeTime()
    assert (await wait(reader(["running"]), fake, deadline=fake.now - 1))["status"] == "timeout"
    assert (await wait(reader(["success"]), fake, deadline=fake.now - 1))["status"] == "success"


async def test_an_unknown_state_fails_closed_with_the_raw_value():
    fake = FakeTime()
    event = await wait(reader(["paused_by_vendor"]), fake, deadline=fake.now + 60)
    assert event["status"] == "failed" and event["vendor_state"] == "paused_by_vendor"
    assert "unknown Acme run state 'paused_by_vendor'" in event["message"]


async def test_an_api_error_ends_the_wait_as_an_error():
    async def broken() -> RunState:
        raise ServerError(vendor="Acme", method="GET", path="/runs", status=503, vendor_message="down")

    fake = FakeTime()
    event = await wait(broken, fake, deadline=fake.now + 60)
    assert event["status"] == "error" and "HTTP 503" in event["message"] and event["run"] == {}


@pytest.mark.parametrize("event, complaint", [
    ("done", "a dict"),
    ({"status": "success", "vendor": "acme"}, "lacks"),
    ({**make_event("success", "other", "m", "r", None, "x")}, "from 'other'"),
    ({**make_event("success", "acme", "m", "r", None, "x"), "status": "finished"}, "unknown status 'finished'"),
])
def test_events_other_than_the_documented_payload_are_refused(event, complaint):
    with pytest.raises(EventError, match=complaint):
        validate_event(event, "acme")


def event(status: str) -> dict:
    return make_event(status, "acme", "m1", "r1", RunState(status, status, {"id": "r1"}), f"run {status}")


def test_settle_returns_the_run_on_success_and_fails_on_failure_timeout_and_error():
    assert settle(event("success")) == {"id": "r1"}
    for status in ("failed", "timeout", "error"):
        with pytest.raises(AirflowException, match=f"run {status}"):
            settle(event(status))


@pytest.mark.parametrize("on_alert, outcome", [("fail", AirflowException), ("skip", AirflowSkipException), ("succeed", None)])
def test_settle_follows_on_alert(on_alert, outcome):
    if outcome is None:
        assert settle(event("alert"), on_alert=on_alert) == {"id": "r1"}
    else:
        with pytest.raises(outcome):
            settle(event("alert"), on_alert=on_alert)


def test_on_error_skip_skips_errors_but_never_failures_or_timeouts():
    with pytest.raises(AirflowSkipException):
        settle(event("error"), on_error="skip")
    for status in ("failed", "timeout"):
        with pytest.raises(AirflowException) as info:
            settle(event(status), on_error="skip")
        assert not isinstance(info.value, AirflowSkipException)

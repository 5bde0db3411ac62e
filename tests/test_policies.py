"""MonitoringRetryPolicy: the decision for each kind of error, its (de)serialization, the operator
default, and whole DAGs under dag.test() against the sandbox."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pendulum
import pytest
from airflow.sdk import DAG, BaseOperator
from airflow.sdk.definitions.retry_policy import RetryAction, RetryPolicy
from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from airflow_provider_monitoring.policies import (
    DEFAULT_MAX_DELAY,
    RETRY_POLICIES_SUPPORTED,
    MonitoringRetryPolicy,
    default_retry_policy,
)


def api(cls: type[ApiError], status: int | None, retry_after: float | None = None) -> ApiError:
    return cls("Datafold", "GET", "/api/v1/monitors/7", status=status, vendor_message="no", retry_after=retry_after)


def decide(exc: BaseException, policy: MonitoringRetryPolicy | None = None, try_number: int = 1, context=None):
    return (policy or MonitoringRetryPolicy()).evaluate(exc, try_number=try_number, max_tries=4, context=context)


class WaitLike(AirflowException):
    """Stands for any error that copies an API error's status along (as _waiting.WaitError does)."""

    def __init__(self, message: str, status=None, retry_after=None, not_found=False):
        super().__init__(message)
        self.status, self.retry_after, self.not_found = status, retry_after, not_found


# ---- the rules ----------------------------------------------------------------------------------


def test_is_an_airflow_retry_policy_built_without_arguments():
    assert RETRY_POLICIES_SUPPORTED
    policy = MonitoringRetryPolicy()
    assert isinstance(policy, RetryPolicy)
    assert policy.max_delay == DEFAULT_MAX_DELAY == timedelta(hours=24)
    assert policy.cause_depth == 1


@pytest.mark.parametrize(
    ("exc", "shown"),
    [
        (api(AuthenticationError, 401), "AuthenticationError (HTTP 401)"),
        (api(PermissionDeniedError, 403), "PermissionDeniedError (HTTP 403)"),
        (api(NotFoundError, 404), "NotFoundError (HTTP 404)"),
        (api(NotFoundError, None), "NotFoundError (not found in the listing)"),
        (api(BadRequestError, 400), "BadRequestError (HTTP 400)"),
        (api(BadRequestError, 405), "BadRequestError (HTTP 405)"),
        (api(BadRequestError, 413), "BadRequestError (HTTP 413)"),
        (api(ValidationError, 422), "ValidationError (HTTP 422)"),
        (api(ValidationError, 400), "ValidationError (HTTP 400)"),
        (ConfigurationError("connection 'datafold_default' has no Datafold API key"),
         "ConfigurationError (no HTTP status; raised before any request)"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_errors_no_retry_can_fix_fail_without_spending_a_retry(exc, shown):
    decision = decide(exc)
    assert decision.action is RetryAction.FAIL
    assert decision.retry_delay is None
    assert decision.reason.startswith(shown + ": ")
    assert "without spending a retry" in decision.reason


def test_fail_holds_on_every_try():
    for try_number in (1, 2, 4):
        assert decide(api(NotFoundError, 404), try_number=try_number).action is RetryAction.FAIL


@pytest.mark.parametrize(
    ("exc", "delay"),
    [
        (api(RateLimitedError, 429, retry_after=30), timedelta(seconds=30)),
        (api(RateLimitedError, 429, retry_after=0.5), timedelta(seconds=0.5)),
        (api(RateLimitedError, 429, retry_after=0), timedelta(0)),
        (api(ServerError, 503, retry_after=120), timedelta(seconds=120)),
    ],
)
def test_rate_limits_retry_after_the_vendors_retry_after(exc, delay):
    decision = decide(exc)
    assert decision.action is RetryAction.RETRY
    assert decision.retry_delay == delay
    assert f"{type(exc).__name__} (HTTP {exc.status})" in decision.reason
    assert "as the vendor asked" in decision.reason


@pytest.mark.parametrize("exc", [api(RateLimitedError, 429), api(ServerError, 503)])
def test_rate_limits_without_retry_after_retry_after_the_tasks_own_delay(exc):
    decision = decide(exc)
    assert decision.action is RetryAction.RETRY
    assert decision.retry_delay is None  # the task's retry_delay applies
    assert f"(HTTP {exc.status})" in decision.reason


@pytest.mark.parametrize("retry_after", [-1, math.nan, math.inf, "30", True])
def test_an_unusable_retry_after_is_no_delay_override(retry_after):
    exc = api(RateLimitedError, 429)
    exc.retry_after = retry_after
    decision = decide(exc)
    assert (decision.action, decision.retry_delay) == (RetryAction.RETRY, None)


def test_a_retry_after_longer_than_max_delay_is_cut_to_it():
    assert decide(api(RateLimitedError, 429, retry_after=10 * 86400)).retry_delay == timedelta(hours=24)
    policy = MonitoringRetryPolicy(max_delay=60)
    decision = decide(api(RateLimitedError, 429, retry_after=600), policy)
    assert decision.retry_delay == timedelta(seconds=60)
    assert "asked for 600 s" in decision.reason
    assert decide(api(RateLimitedError, 429, retry_after=10 * 86400), MonitoringRetryPolicy(max_delay=None)).retry_delay == timedelta(days=10)


def test_the_tasks_max_retry_delay_caps_the_delay_too():
    task = BaseOperator(task_id="t", max_retry_delay=timedelta(minutes=5))
    decision = decide(api(RateLimitedError, 429, retry_after=3600), context={"task": task})
    assert decision.retry_delay == timedelta(minutes=5)
    # No max_retry_delay on the task: only the policy's own ceiling.
    plain = BaseOperator(task_id="u")
    assert decide(api(RateLimitedError, 429, retry_after=3600), context={"task": plain}).retry_delay == timedelta(hours=1)


@pytest.mark.parametrize(
    "exc",
    [
        api(ServerError, 500),
        api(ServerError, 502),
        api(ServerError, 504, retry_after=10),
        api(TransportError, None),
        api(AmbiguousRequestError, 500),
        api(AmbiguousRequestError, None),
        api(ConflictError, 409),
        api(InsufficientCreditsError, 402),
        api(UnexpectedResponseError, 200),
        api(ApiError, None),
        ValueError("a bug in the task"),
        KeyError("id"),
        AirflowException("something else"),
    ],
    ids=lambda exc: f"{type(exc).__name__}-{getattr(exc, 'status', None)}",
)
def test_everything_else_is_left_to_the_tasks_retries(exc):
    decision = decide(exc)
    assert decision.action is RetryAction.DEFAULT
    assert decision.retry_delay is None


def test_statuses_are_configurable():
    policy = MonitoringRetryPolicy(fail_statuses={401, 402, 403, 404}, rate_limit_statuses={429})
    assert decide(api(InsufficientCreditsError, 402), policy).action is RetryAction.FAIL
    assert "a retry cannot change the answer" in decide(api(InsufficientCreditsError, 402), policy).reason
    assert decide(api(ValidationError, 422), policy).action is RetryAction.DEFAULT
    assert decide(api(ServerError, 503, retry_after=5), policy).action is RetryAction.DEFAULT
    # The status-less not-found still counts as a 404, so it follows the configured statuses.
    assert decide(api(NotFoundError, None), MonitoringRetryPolicy(fail_statuses={401})).action is RetryAction.DEFAULT


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fail_statuses": {404, 429}},  # overlaps rate_limit_statuses
        {"fail_statuses": {"404"}},
        {"fail_statuses": 404},
        {"rate_limit_statuses": {42}},
        {"max_delay": -1},
        {"max_delay": "60"},
        {"cause_depth": -1},
        {"cause_depth": 1.5},
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs):
    with pytest.raises(ConfigurationError, match="MonitoringRetryPolicy"):
        MonitoringRetryPolicy(**kwargs)


# ---- errors that only carry a status ------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "action", "delay"),
    [
        (WaitLike("wait ended", status=404), RetryAction.FAIL, None),
        (WaitLike("wait ended", status=401), RetryAction.FAIL, None),
        (WaitLike("wait ended", status=422), RetryAction.FAIL, None),
        (WaitLike("wait ended", not_found=True), RetryAction.FAIL, None),
        (WaitLike("wait ended", status=429, retry_after=7), RetryAction.RETRY, timedelta(seconds=7)),
        (WaitLike("wait ended", status=503), RetryAction.RETRY, None),
        (WaitLike("wait ended", status=500, retry_after=7), RetryAction.DEFAULT, None),
        (WaitLike("wait ended"), RetryAction.DEFAULT, None),
        (WaitLike("wait ended", status="404"), RetryAction.DEFAULT, None),  # not an integer
        (WaitLike("wait ended", status=True), RetryAction.DEFAULT, None),
        (WaitLike("wait ended", status=4040), RetryAction.DEFAULT, None),  # not an HTTP status
    ],
    ids=lambda value: None if isinstance(value, (RetryAction, timedelta, type(None))) else repr(vars(value)),
)
def test_any_exception_with_a_status_follows_the_same_rules(exc, action, delay):
    decision = decide(exc)
    assert (decision.action, decision.retry_delay) == (action, delay)
    if action is RetryAction.FAIL:
        assert decision.reason.startswith("WaitLike (")


def test_the_wait_error_of_the_waiting_module_is_classified():
    from airflow_provider_monitoring._waiting import WaitError as wait_error

    assert decide(wait_error("Datafold run 5: HTTP 404", status=404)).action is RetryAction.FAIL
    decision = decide(wait_error("Datafold run 5: HTTP 429", status=429, retry_after=9))
    assert (decision.action, decision.retry_delay) == (RetryAction.RETRY, timedelta(seconds=9))
    assert decide(wait_error("Datafold run 5: HTTP 500", status=500)).action is RetryAction.DEFAULT


# ---- causes -------------------------------------------------------------------------------------


def raised(outer: type[BaseException], inner: BaseException | None, *, chain: str = "from") -> BaseException:
    """``outer`` as a task would raise it around ``inner``: ``from inner``, while handling it
    (implicit context), or ``from None``."""
    try:
        try:
            raise inner
        except BaseException as err:
            if chain == "from":
                raise outer("wrapped") from err
            if chain == "context":
                raise outer("wrapped")  # noqa: B904 - the implicit context is what is tested
            raise outer("wrapped") from None
    except BaseException as exc:
        return exc
    raise AssertionError("unreachable")


def test_an_explicit_cause_one_level_down_decides():
    decision = decide(raised(AirflowException, api(NotFoundError, 404)))
    assert decision.action is RetryAction.FAIL
    assert decision.reason.startswith("AirflowException caused by NotFoundError (HTTP 404): ")
    decision = decide(raised(RuntimeError, api(RateLimitedError, 429, retry_after=12)))
    assert (decision.action, decision.retry_delay) == (RetryAction.RETRY, timedelta(seconds=12))
    assert decide(raised(RuntimeError, ConfigurationError("bad"))).action is RetryAction.FAIL


def test_an_implicit_context_is_not_followed():
    # A task that caught the 404 and then failed on something of its own: not a 404.
    assert decide(raised(RuntimeError, api(NotFoundError, 404), chain="context")).action is RetryAction.DEFAULT
    assert decide(raised(RuntimeError, api(NotFoundError, 404), chain="none")).action is RetryAction.DEFAULT


def test_cause_depth_bounds_the_walk():
    deep = raised(RuntimeError, raised(AirflowException, api(NotFoundError, 404)))
    assert decide(deep).action is RetryAction.DEFAULT
    assert decide(deep, MonitoringRetryPolicy(cause_depth=2)).action is RetryAction.FAIL
    shallow = raised(AirflowException, api(NotFoundError, 404))
    assert decide(shallow, MonitoringRetryPolicy(cause_depth=0)).action is RetryAction.DEFAULT


def test_a_recognised_exception_decides_even_when_its_cause_says_otherwise():
    # A 500 raised while reporting a 404 is a 500: the task's retries decide.
    assert decide(raised(lambda msg: api(ServerError, 500), api(NotFoundError, 404))).action is RetryAction.DEFAULT


def test_a_cause_cycle_does_not_loop():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert decide(first, MonitoringRetryPolicy(cause_depth=10)).action is RetryAction.DEFAULT


# ---- serialization ------------------------------------------------------------------------------


def test_serialize_is_plain_json_and_deserialize_rebuilds_an_equal_policy():
    for policy in (
        MonitoringRetryPolicy(),
        MonitoringRetryPolicy(fail_statuses=[401, 402], rate_limit_statuses=[429], max_delay=90, cause_depth=0),
        MonitoringRetryPolicy(max_delay=None),
    ):
        data = json.loads(json.dumps(policy.serialize()))
        assert data["__type"] == "MonitoringRetryPolicy"
        rebuilt = MonitoringRetryPolicy.deserialize(data)
        assert rebuilt == policy and rebuilt is not policy
        assert rebuilt.serialize() == data
    assert MonitoringRetryPolicy.deserialize({}) == MonitoringRetryPolicy()
    assert MonitoringRetryPolicy().serialize()["fail_statuses"] == [400, 401, 403, 404, 405, 413, 422]
    with pytest.raises(ConfigurationError):
        MonitoringRetryPolicy.deserialize({"__type": "ExceptionRetryPolicy", "rules": []})


def test_a_task_with_the_policy_serializes_as_dag_test_does():
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("policy_serialized", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        BaseOperator(task_id="with_policy", retry_policy=MonitoringRetryPolicy())
    tasks = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).task_dict
    assert tasks["with_policy"].has_retry_policy


# ---- the operator default -----------------------------------------------------------------------


def test_default_retry_policy_adds_the_policy_only_when_the_caller_said_nothing():
    given = {"task_id": "t"}
    added = default_retry_policy(given)
    assert isinstance(added["retry_policy"], MonitoringRetryPolicy)
    assert given == {"task_id": "t"}  # the caller's dict is left alone
    assert default_retry_policy({"retry_policy": None}) == {"retry_policy": None}  # the opt-out
    own = MonitoringRetryPolicy(cause_depth=0)
    assert default_retry_policy({"retry_policy": own})["retry_policy"] is own
    kept = default_retry_policy({"default_args": {"retry_policy": None}})
    assert "retry_policy" not in kept


class _Operator(BaseOperator):
    """How the provider's operators call it."""

    def __init__(self, **kwargs):
        super().__init__(**default_retry_policy(kwargs))

    def execute(self, context):
        return None


def test_operators_get_the_policy_unless_the_task_or_the_dag_says_otherwise():
    own = MonitoringRetryPolicy(max_delay=5)
    start = pendulum.datetime(2026, 1, 1)
    with DAG("policy_default", schedule=None, start_date=start):
        assert isinstance(_Operator(task_id="plain").retry_policy, MonitoringRetryPolicy)
        assert _Operator(task_id="opted_out", retry_policy=None).retry_policy is None
        assert _Operator(task_id="own", retry_policy=own).retry_policy is own
    with DAG("policy_dag_default", schedule=None, start_date=start, default_args={"retry_policy": None}):
        assert _Operator(task_id="dag_opted_out").retry_policy is None
    with DAG("policy_dag_own", schedule=None, start_date=start, default_args={"retry_policy": own}):
        assert _Operator(task_id="dag_own").retry_policy is own


# ---- without Airflow retry policies; cheap import -----------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=os.environ, timeout=120)


def test_on_an_airflow_without_retry_policies_the_module_imports_and_says_why_on_use():
    result = run_python('''
        import sys
        sys.modules["airflow.sdk.definitions.retry_policy"] = None  # as if Airflow were older than 3.3
        from airflow_provider_monitoring.policies import (
            RETRY_POLICIES_SUPPORTED, MonitoringRetryPolicy, default_retry_policy)
        assert RETRY_POLICIES_SUPPORTED is False
        assert default_retry_policy({"task_id": "t"}) == {"task_id": "t"}
        try:
            MonitoringRetryPolicy()
        except RuntimeError as exc:
            print("refused:", exc)
        else:
            raise SystemExit("constructed on an Airflow without retry policies")
    ''')
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused: MonitoringRetryPolicy needs Airflow 3.3 or later" in result.stdout


def test_importing_the_module_pulls_in_no_http_client_hook_or_sandbox():
    result = run_python('''
        import sys
        import airflow_provider_monitoring.policies
        heavy = [name for name in sys.modules if name.split(".")[0] in ("requests", "aiohttp")
                 or name.startswith(("airflow_provider_monitoring.hooks", "airflow_provider_monitoring.sandbox",
                                     "airflow_provider_monitoring._http.client", "airflow_provider_monitoring.operators"))]
        print(heavy)
    ''')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


# ---- whole DAGs under dag.test() ----------------------------------------------------------------

DAG_FILE = textwrap.dedent('''
    import json
    import os
    import time
    from datetime import timedelta

    import pendulum
    from airflow.sdk import dag, get_current_context, task

    from airflow_provider_monitoring.policies import MonitoringRetryPolicy

    TRIES = os.environ["POLICY_TEST_TRIES"]
    START = pendulum.datetime(2026, 1, 1)


    def record(name, what):
        """One line per try (and its end), so the test can count tries and time the gaps."""
        ti = get_current_context()["ti"]
        with open(os.path.join(TRIES, name), "a") as handle:
            handle.write(f"{what} {ti.try_number} {time.time():.3f}\\n")


    def missing_monitor(name):
        from airflow_provider_monitoring.hooks.datafold import DatafoldHook

        record(name, "start")
        try:
            DatafoldHook().get_monitor(999999)  # a 404 in the sandbox
        finally:
            record(name, "end")


    @dag(dag_id="policy_not_found", schedule=None, start_date=START, catchup=False, tags=["test", "failure-path"])
    def policy_not_found():
        @task(retries=3, retry_delay=timedelta(seconds=0), retry_policy=MonitoringRetryPolicy())
        def get_missing():
            missing_monitor("policy_not_found")

        get_missing()


    @dag(dag_id="no_policy_not_found", schedule=None, start_date=START, catchup=False, tags=["test", "failure-path"])
    def no_policy_not_found():
        @task(retries=1, retry_delay=timedelta(seconds=0))
        def get_missing():
            missing_monitor("no_policy_not_found")

        get_missing()


    @dag(dag_id="policy_rate_limited", schedule=None, start_date=START, catchup=False, tags=["test"])
    def policy_rate_limited():
        @task(retries=2, retry_delay=timedelta(seconds=0), retry_policy=MonitoringRetryPolicy())
        def rate_limited_once():
            from airflow_provider_monitoring.hooks.datafold import DatafoldHook
            from airflow_provider_monitoring.sandbox.core import FaultRule, SandboxConfig
            from airflow_provider_monitoring.sandbox.server import Sandbox

            record("policy_rate_limited", "start")
            try:
                if get_current_context()["ti"].try_number > 1:
                    return "second try"
                # A sandbox of this try's own that answers every request 429 with Retry-After: 4,
                # behind a connection whose client does not retry itself: RateLimitedError at once.
                faults = [FaultRule(kind="retry_after", retry_after=4)]
                with Sandbox(SandboxConfig(faults=faults)) as limited:
                    env = limited.connection_env({"datafold": "datafold_limited"})
                    conn = json.loads(env["AIRFLOW_CONN_DATAFOLD_LIMITED"])
                    conn["extra"] = {"max_retries": 0}
                    os.environ["AIRFLOW_CONN_DATAFOLD_LIMITED"] = json.dumps(conn)
                    DatafoldHook(datafold_conn_id="datafold_limited").get_monitor(1)
            finally:
                record("policy_rate_limited", "end")

        rate_limited_once()

    policy_not_found()
    no_policy_not_found()
    policy_rate_limited()
''')


def read_tries(path) -> list[tuple[str, int, float]]:
    if not path.exists():
        return []
    return [(what, int(number), float(at)) for what, number, at in (line.split() for line in path.read_text().splitlines())]


def test_dag_test_fails_a_404_after_one_try_and_waits_out_a_retry_after(tmp_path):
    folder, tries = tmp_path / "dags", tmp_path / "tries"
    folder.mkdir()
    tries.mkdir()
    (folder / "policy_dags.py").write_text(DAG_FILE)
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox.demo", str(folder),
         "--airflow-home", str(tmp_path / "home")],
        capture_output=True, text=True, env={**os.environ, "POLICY_TEST_TRIES": str(tries)}, timeout=600,
    )
    log_path = tmp_path / "home" / "demo.log"
    log = log_path.read_text() if log_path.exists() else ""
    report = result.stdout + result.stderr + log[-6000:]
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if "policy" in line.split()[0]}
    assert "failed   as expected" in lines.get("policy_not_found", ""), report
    assert "failed   as expected" in lines.get("no_policy_not_found", ""), report
    assert "success  as expected" in lines.get("policy_rate_limited", ""), report
    assert result.returncode == 0, report

    # With the policy: one try of the three allowed; the 404 was reported as such.
    assert [(what, n) for what, n, _ in read_tries(tries / "policy_not_found")] == [("start", 1), ("end", 1)], report
    assert "NotFoundError (HTTP 404): the object does not exist; failed without spending a retry" in log, report
    # Without it: the 404 spent the one retry the task had.
    assert [(what, n) for what, n, _ in read_tries(tries / "no_policy_not_found")] == [
        ("start", 1), ("end", 1), ("start", 2), ("end", 2)], report

    # The 429: retried once, after the vendor's 4 s rather than the task's retry_delay of 0 s.
    limited = read_tries(tries / "policy_rate_limited")
    assert [(what, n) for what, n, _ in limited] == [("start", 1), ("end", 1), ("start", 2), ("end", 2)], report
    assert limited[2][2] - limited[1][2] >= 3.5, limited
    assert "RateLimitedError (HTTP 429): rate limited; retrying in 4 s as the vendor asked" in log, report

"""Shared test parts: a real HTTP server on 127.0.0.1 that answers from a script and records what
went over the wire, and Airflow connections given as AIRFLOW_CONN_* JSON, as users write them."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

# Airflow reads AIRFLOW_HOME on import; keep test runs out of the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="apm-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest  # noqa: E402

API_KEY = "sk-test-9f8e7d6c5b4a3f2e1d0c"


def closed_port_url() -> str:
    """A loopback URL on which nothing listens: connections to it are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (slow replies, timeouts)
    drop: bool = False  # close the connection without any answer (a reset)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def q(self, name: str) -> str | None:
        """The single value of query parameter ``name`` (None when absent)."""
        values = self.query.get(name)
        return values[0] if values else None


Responder = Callable[[Seen], Reply]


class ApiServer:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Reply | Responder]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                reply = server._reply_for(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = reply.body if reply.body is not None else (
                    b"" if reply.json is None else json.dumps(reply.json).encode()
                )
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(reply.status)
                headers = dict(reply.headers)
                if reply.json is not None and "Content-Type" not in headers:
                    headers["Content-Type"] = "application/json"
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll keeps shutdown (once per test) from costing half a second.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, *replies: Reply | Responder | dict | list) -> None:
        """Answer ``method path`` with ``replies`` in order; the last one repeats. A dict or list is
        a 200 JSON reply; a callable gets the request and returns a Reply."""
        queue = [r if isinstance(r, Reply) or callable(r) else Reply(json=r) for r in replies]
        with self._lock:
            self._routes[(method.upper(), path)] = queue

    def _reply_for(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            queue = self._routes.get((seen.method, seen.path))
            if not queue:
                return Reply(404, json={"error": f"no route for {seen.method} {seen.path}"})
            item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item(seen) if callable(item) and not isinstance(item, Reply) else item

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def api() -> ApiServer:
    server = ApiServer()
    yield server
    server.close()


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define an Airflow connection through its AIRFLOW_CONN_<ID> JSON form; returns the conn id."""

    def make(conn_id: str, conn_type: str, host: str | None, password: str | None = API_KEY, **extra: Any) -> str:
        spec: dict[str, Any] = {"conn_type": conn_type}
        if host is not None:
            spec["host"] = host
        if password is not None:
            spec["password"] = password
        if extra:
            spec["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(spec))
        return conn_id

    return make


@pytest.fixture
def datafold_conn(monitoring_sandbox, connection):
    """A Datafold connection to the sandbox whose HTTP layer does not retry (or retries once), so a
    fault reaches the wait itself."""

    def make(max_retries: int = 0) -> str:
        return connection(f"datafold_r{max_retries}", "datafold", monitoring_sandbox.vendor_url("datafold"),
                          password=monitoring_sandbox.config.api_key, max_retries=max_retries)

    return make


@pytest.fixture(autouse=True)
def fast_backoff(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exponential backoff shrunk a hundredfold so retry tests stay quick; tests marked
    ``real_backoff`` keep it. Retry-After is the vendor's own value and is never shrunk."""
    if request.node.get_closest_marker("real_backoff"):
        return
    from airflow_provider_monitoring._http import retry

    original = retry.RetryPolicy.backoff
    monkeypatch.setattr(retry.RetryPolicy, "backoff", lambda self, n: original(self, n) / 100)

"""The sandbox process: one aiohttp server, the three vendor apps under their prefixes, the control
API under ``/_sandbox`` and the scheduler on the server's event loop."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import threading
from typing import Any, Callable, TypeVar

from aiohttp import web

from airflow_provider_monitoring.sandbox.core import (
    CONTROL_PREFIX,
    VENDORS,
    Context,
    SandboxConfig,
    fault_middleware,
    load_state,
    request_log_middleware,
    saver,
)


CONTEXT = web.AppKey("context", Context)
T = TypeVar("T")


def build_app(config: SandboxConfig) -> web.Application:
    from airflow_provider_monitoring.sandbox.datafold import DatafoldApp
    from airflow_provider_monitoring.sandbox.diligent import DiligentApp
    from airflow_provider_monitoring.sandbox.encrata import EncrataApp

    from airflow_provider_monitoring.sandbox.control import ControlApp, Scheduler

    state = load_state(config.state_file)
    context = Context(config, state, saver(config.state_file, state))
    root = web.Application(middlewares=[request_log_middleware(context), fault_middleware(config)])
    vendor_apps = [EncrataApp(context), DiligentApp(context), DatafoldApp(context)]
    for vendor_app in vendor_apps:
        root.add_subapp(f"/{vendor_app.vendor}", vendor_app.create_app())
    scheduler = Scheduler(context, vendor_apps)
    root.add_subapp(CONTROL_PREFIX, ControlApp(context, {app.vendor: app for app in vendor_apps}, scheduler).create_app())
    root.cleanup_ctx.append(scheduler.lifetime)
    root[CONTEXT] = context
    return root


class Sandbox:
    """The emulator running in a background thread, for tests, the demo and the CLI.

    >>> with Sandbox() as sandbox:
    ...     sandbox.connection_env()   # AIRFLOW_CONN_* for the three default connections
    """

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        # A copy: fault counters run down as requests hit them, and the caller's config may be
        # reused for another sandbox. Change rules during a run through ``sandbox.config``.
        self.config = copy.deepcopy(config or SandboxConfig())
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The address clients use: a wildcard bind is reached on loopback (the only place the
        hooks accept plain http), an IPv6 address goes in brackets."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"http://{host}:{self.port}"

    def call(self, change: Callable[[dict[str, dict[str, Any]]], T]) -> T:
        """Run ``change(state)`` on the sandbox's own thread, between requests, and return its
        result: the safe way to seed, switch or inspect the emulators' state while they serve."""
        if self._loop is None or self._runner is None:
            raise RuntimeError("the sandbox is not running")
        state = self._runner.app[CONTEXT].state

        async def on_loop() -> T:
            return change(state)

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(10)

    def requests(self, method: str | None = None, path_glob: str = "*") -> list[tuple[str, str]]:
        """The (method, path) of every request served to a vendor so far, optionally filtered."""
        import fnmatch

        if self._runner is None:
            raise RuntimeError("the sandbox is not running")
        log = list(self._runner.app[CONTEXT].requests)
        return [(entry.method, entry.path) for entry in log
                if (method is None or entry.method == method) and fnmatch.fnmatchcase(entry.path, path_glob)]

    def start_run(self, vendor: str, **fields: Any) -> dict:
        """Start a run through the control API, as ``POST /_sandbox/<vendor>/runs`` with ``fields``
        (docs/sandbox.md, "Starting a run"), and return its answer; a refusal raises ``ControlError``."""
        from airflow_provider_monitoring.sandbox.client import control

        return control(self.url, "POST", f"/{vendor}/runs", fields)

    def vendor_url(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def connection_env(self, conn_ids: dict[str, str] | None = None) -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` JSON values pointing each vendor's connection at this sandbox."""
        conn_ids = conn_ids or {vendor: f"{vendor}_default" for vendor in VENDORS}
        return {
            f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(
                {"conn_type": vendor, "host": self.vendor_url(vendor), "password": self.config.api_key}
            )
            for vendor, conn_id in conn_ids.items()
        }

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._serve, name="monitoring-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the sandbox did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the sandbox did not start on {self.host}:{self.port}: {self._error}") from None
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is not None and runner is not None and loop.is_running():
            try:
                # Requests still in flight (a slow fault) get a second, then are cut.
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            except Exception:  # stopping must not fail a test's teardown
                pass
            finally:
                loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._runner = None
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _open(self) -> None:
        self._runner = web.AppRunner(build_app(self.config), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:  # the port is taken: stop what the setup started (the scheduler)
            await self._runner.cleanup()
            raise
        self.port = site._server.sockets[0].getsockname()[1]

"""The sandbox process: one aiohttp server, the three vendor apps under their prefixes."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web

from airflow_provider_monitoring.sandbox.core import (
    VENDORS,
    Context,
    SandboxConfig,
    fault_middleware,
    load_state,
    saver,
)


CONTEXT = web.AppKey("context", Context)


def build_app(config: SandboxConfig) -> web.Application:
    from airflow_provider_monitoring.sandbox import datafold, diligent, encrata

    state = load_state(config.state_file)
    context = Context(config, state, saver(config.state_file, state))
    root = web.Application(middlewares=[fault_middleware(config)])
    for vendor, module in (("encrata", encrata), ("diligent", diligent), ("datafold", datafold)):
        root.add_subapp(f"/{vendor}", module.create_app(context))
    root[CONTEXT] = context
    return root


class Sandbox:
    """The emulator running in a background thread, for tests, the demo and the CLI.

    >>> with Sandbox() as sandbox:
    ...     sandbox.connection_env()   # AIRFLOW_CONN_* for the three default connections
    """

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or SandboxConfig()
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> dict[str, dict[str, Any]]:
        """The live state of the three emulators (monitors, runs, per-vendor switches), for tests
        that seed or inspect it; changes take effect on the next request."""
        if self._runner is None:
            raise RuntimeError("the sandbox is not running")
        return self._runner.app[CONTEXT].state

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
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"the sandbox did not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
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
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _open(self) -> None:
        self._runner = web.AppRunner(build_app(self.config), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

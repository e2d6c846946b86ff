"""The Jupyter server extension: it makes the Jupyter server the tracking server of one store.

Loaded into any Jupyter server (``jupyter lab``, ``jupyter server``) when the package is
installed, or run on its own as ``jupyter mltrack server [--port --ip --store]``. On its own it
is a tracking server and nothing else (:class:`TrackingServerApp`): its token, which MLflow
clients of a whole team hold, opens no kernels, terminals or files. While it runs it owns the
store (DESIGN.md, "One writer per store"):

- it opens the DuckDB file and keeps it open;
- it tells kernels it starts where it is (``MLTRACK_STORE``, ``MLTRACK_SERVER_URL``,
  ``MLTRACK_SERVER_TOKEN`` in its environment, which kernels inherit), and writes
  ``<store>/server.json`` (mode 0600) so that scripts started by hand find it too;
- it replays batches that clients spooled to ``<store>/spool/`` while it was away, and marks
  KILLED the runs of processes on this host that died without ending them;
- on shutdown it finishes the store call in progress, refuses later ones (clients spool
  them), closes the file and removes ``server.json``.

Every route sits under ``{base_url}mltrack/`` and requires Jupyter's authentication, and
Jupyter's authorization of the action ("read", "write" or "execute") on the resource
``"mltrack"`` (see :class:`jupyter_mltrack.server.base.MltrackHandler`).
"""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from tornado import ioloop
from traitlets import Float, Int, Unicode, default

from .. import __version__
from ..config import STORE_ENV, resolve_store_dir
from ..store import discovery
from ..tracking.buffer import Spool
from . import base
from .models_handlers import stop_warm_models
from .owned_store import OwnedStore
from .routes import mltrack_handlers

#: the package name under which Jupyter enables the extension (``jpserver_extensions``)
EXTENSION_PACKAGE = "jupyter_mltrack"


class TrackingServerApp(ServerApp):
    """The Jupyter server of ``mltrack server``: the tracking API and nothing else.

    A team's MLflow clients are given this server's token, so the token must grant tracking
    only. Of Jupyter's own services it keeps ``api`` (``/api/status``, ``/api/me``) and
    ``auth`` (login and logout); contents, files, kernels, kernel specs, sessions, nbconvert,
    config, events, shutdown and the ``/view`` pages are not served (404), and no other server
    extension is loaded (terminals, JupyterLab, …) nor extra service added, whatever the
    configuration enables.
    """

    # name stays ServerApp's: it names the config files read (jupyter_server_config.*)

    # ServerApp's documented seam: "Subclasses can override this list to expose a subset of
    # these handlers." It is a class attribute, not a trait, so no configuration can widen it.
    default_services = ("api", "auth")  # type: ignore[assignment]  # (typed as its 13 items)

    def init_server_extensions(self) -> None:
        """Load this extension only, even if config files or the command line enable others."""
        others = sorted(
            n for n, on in self.jpserver_extensions.items() if on and n != EXTENSION_PACKAGE
        )
        if others:
            self.log.info("mltrack server serves tracking only; not loading: %s", ", ".join(others))
        self.jpserver_extensions = {EXTENSION_PACKAGE: True}
        super().init_server_extensions()

    def init_webapp(self) -> None:
        """Build the web application without ``/files/`` and without services that
        configuration adds."""
        # the contents manager adds /files/ (raw files under root_dir) outside any service
        self.contents_manager.files_handler_class = None
        if self.extra_services:
            self.log.info("mltrack server serves tracking only; not serving: %s",
                          ", ".join(self.extra_services))  # fmt: skip
            self.extra_services = []
        super().init_webapp()


class MltrackApp(ExtensionApp):
    """The jupyter-mltrack tracking server (a Jupyter server extension).

    Settings go in ``jupyter_server_config.py`` as ``c.MltrackApp.<name> = …`` or on the
    command line as ``--MltrackApp.<name>=…``.
    """

    name = EXTENSION_PACKAGE
    description = "The jupyter-mltrack tracking server: native and MLflow REST APIs over a store."
    extension_url = "/mltrack/api/info"
    # launched on its own (launch() below) it is the tracking server only; loaded into
    # JupyterLab or `jupyter server` neither setting applies and the server stays as it is
    load_other_extensions = False
    serverapp_class = TrackingServerApp
    aliases = {**ExtensionApp.aliases, "store": "MltrackApp.store_dir"}

    store_dir = Unicode(
        "",
        help="""The store directory this server owns. Empty: $MLTRACK_STORE, else ~/.mltrack.""",
    ).tag(config=True)

    max_upload_bytes = Int(
        2 * 1024**3,
        help="""The largest artifact file a client may upload, in bytes (larger: HTTP 413).""",
    ).tag(config=True)

    preview_max_bytes = Int(
        1_000_000,
        help="""Text, JSON and HTML previews read at most this many bytes of a file.""",
    ).tag(config=True)

    preview_max_rows = Int(
        100, help="""Table previews (CSV, TSV, Parquet) show at most this many rows."""
    ).tag(config=True)

    preview_max_image_bytes = Int(
        5_000_000,
        help="""Images larger than this many bytes get no inline preview (download them).""",
    ).tag(config=True)

    default_points = Int(
        1000,
        help="""Points per series a metric chart gets when the request names none; longer
        histories are downsampled keeping each bucket's first, last, lowest and highest point.""",
    ).tag(config=True)

    max_points = Int(
        100_000, help="""The most points per series a metric-history request may ask for."""
    ).tag(config=True)

    changes_max_wait = Float(
        30.0,
        help="""The longest a change-feed request may wait for news (seconds, ?wait=).""",
    ).tag(config=True)

    housekeeping_interval = Float(
        10.0,
        help="""Seconds between housekeeping rounds: replaying batches that clients spooled to
        <store>/spool/ while the server was away, and marking KILLED the runs of processes on
        this host that died without ending them. 0 turns the rounds off (one still runs at
        start).""",
    ).tag(config=True)

    query_deadline = Float(
        help="""Seconds a search may hold the store before it is stopped (answered 400, so that
        one slow filter cannot stall every kernel and the UI). 0: no deadline. Default:
        $MLTRACK_QUERY_DEADLINE, else 30.""",
    ).tag(config=True)

    @default("query_deadline")
    def _default_query_deadline(self) -> float:
        from ..store.duckdb.connection import default_query_deadline

        return default_query_deadline()

    max_json_body_bytes = Int(
        8 * 1024**2,
        help="""The largest JSON request body a native route takes, in bytes (larger: HTTP 413,
        refused before the body is read).""",
    ).tag(config=True)

    max_batch_body_bytes = Int(
        64 * 1024**2,
        help="""The largest write batch (POST /api/batches) in bytes (larger: HTTP 413). The
        Python client splits larger batches to fit.""",
    ).tag(config=True)

    store: OwnedStore | None = None
    _housekeeper: ioloop.PeriodicCallback | None = None
    _housekeeping = False

    @default("open_browser")
    def _default_open_browser(self) -> bool:
        # a tracking server has no page of its own to open
        return False

    # set up ----------------------------------------------------------------------------------
    def initialize_settings(self) -> None:
        """Create the store owner and hand it, with this configuration, to the handlers."""
        self.resolved_store_dir = resolve_store_dir(self.store_dir or None)
        owner = discovery.read_server_file(self.resolved_store_dir)
        if owner is not None:
            raise RuntimeError(
                f"the store {self.resolved_store_dir} is already owned by the jupyter-mltrack "
                f"server at {owner['url']} (pid {owner['pid']}); stop it or choose another "
                "store with --store"
            )
        self.store = OwnedStore(self.resolved_store_dir)
        self.settings[base.STORE_SETTING] = self.store
        self.settings[base.CONFIG_SETTING] = self
        self._saved_env: dict[str, str | None] = {}
        self.log.info("jupyter-mltrack %s: store %s", __version__, self.resolved_store_dir)

    def initialize_handlers(self) -> None:
        """Every route of the extension, under ``{base_url}mltrack/``."""
        self.handlers.extend(mltrack_handlers(self.log))

    # start and stop --------------------------------------------------------------------------
    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """After the server listens: open the store, advertise the server, replay the spool."""
        if self.store is None:
            return  # loading failed (the store has another owner): nothing to start
        await asyncio.get_running_loop().run_in_executor(None, self.store.open)
        url = self.server_url()
        token = self.server_token()
        if url is not None:
            discovery.write_server_file(
                self.resolved_store_dir, url=url, token=token, base_url=serverapp.base_url
            )
            self._set_env(
                {
                    STORE_ENV: str(self.resolved_store_dir),
                    discovery.URL_ENV: url,
                    discovery.TOKEN_ENV: token,
                }
            )
            self.log.info("jupyter-mltrack: tracking server at %s", url)
        await self._keep_house()
        # Everything loaded so far (Jupyter, the store, pyarrow) lives as long as the server:
        # out of the collector's sight, a full collection triggered by a large write batch's
        # rows walks only what that batch made (tens of ms less per collection).
        gc.freeze()
        if self.housekeeping_interval > 0:
            self._housekeeper = ioloop.PeriodicCallback(
                self._keep_house, self.housekeeping_interval * 1000
            )
            self._housekeeper.start()

    async def stop_extension(self) -> None:
        """Stop advertising, finish the call in progress, close the store."""
        if self._housekeeper is not None:
            self._housekeeper.stop()
        if self.store is None:
            return  # never got as far as owning a store
        discovery.remove_server_file(self.resolved_store_dir)
        self._restore_env()
        loop = asyncio.get_running_loop()
        # warm models run in worker processes: stop them with the server, never orphan them
        if self.serverapp is not None:
            await loop.run_in_executor(None, stop_warm_models, self.serverapp.web_app.settings)
        await loop.run_in_executor(None, self.store.shutdown)
        # give responses of calls that just finished a moment to leave before the loop stops
        await asyncio.sleep(0.05)

    async def _keep_house(self) -> None:
        """Replay spooled batches and reap runs of dead processes, off the IOLoop."""
        if self.store is None or self._housekeeping:
            return
        self._housekeeping = True
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._housekeeping_round)
        finally:
            self._housekeeping = False

    def _housekeeping_round(self) -> None:
        assert self.store is not None
        spool = Spool(self.resolved_store_dir / "spool")
        try:
            if spool.pending():
                done = spool.replay(self.store)
                if done:
                    self.log.info("jupyter-mltrack: replayed %d spooled batch(es)", done)
            reaped = self.store.reap_dead_runs()
            if reaped:
                self.log.info("jupyter-mltrack: marked %d run(s) of exited processes KILLED",
                              len(reaped))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            self.log.warning("jupyter-mltrack: housekeeping failed: %s", exc)

    # where the server is ---------------------------------------------------------------------
    def server_url(self) -> str | None:
        """The URL of ``{base_url}mltrack`` that processes on this machine can reach."""
        serverapp = self.serverapp
        if serverapp is None or serverapp.sock:
            return None  # a unix socket: no URL for requests to use
        ip = serverapp.ip
        if ip in ("", "localhost", "0.0.0.0", "*"):
            host = "127.0.0.1"
        elif ip == "::":
            host = "[::1]"
        else:
            host = f"[{ip}]" if ":" in ip else ip
        scheme = "https" if serverapp.certfile else "http"
        return f"{scheme}://{host}:{serverapp.port}{serverapp.base_url}mltrack"

    def server_token(self) -> str:
        """The token clients send (empty when the server has token authentication off)."""
        serverapp = self.serverapp
        provider = getattr(serverapp, "identity_provider", None)
        token = getattr(provider, "token", "") if provider is not None else ""
        return token or ""

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _restore_env(self) -> None:
        # an in-process server (tests) must not leave its address behind for later code
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()


def launch(argv: list[str] | None = None) -> None:
    """Run the tracking server on its own (``jupyter mltrack server [--port --ip --store]``).

    It serves tracking only (:class:`TrackingServerApp`): whoever holds its token can read and
    write the store, as the server's authorizer allows, but cannot start kernels or terminals
    or read the server's files.

    Parameters
    ----------
    argv:
        Command-line arguments: any Jupyter server option (``--port``, ``--ip``,
        ``--IdentityProvider.token`` …), ``--store DIR``, or ``--MltrackApp.<setting>=…``.
    """
    # On its own the server is only the tracking server: if the extension cannot own the
    # store, exit with the reason instead of serving without it.
    strict = "--ServerApp.reraise_server_extension_failures=True"
    MltrackApp.launch_instance([strict, *(argv or [])])


__all__ = ["MltrackApp", "TrackingServerApp", "launch"]

"""Running the explorer: one uvicorn server over a SnapshotManager, in the foreground or a thread."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from comments.errors import InputError
from comments.explorer.app import create_app
from comments.explorer.snapshot import SnapshotManager

LOOPBACK = "127.0.0.1"


@dataclass
class Explorer:
    """A started explorer: its address and how to stop it."""

    url: str             # the address to open (with ?token=... when a token is required)
    base_url: str        # the address without the token
    token: str | None
    manager: SnapshotManager
    _server: object
    _thread: threading.Thread | None

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.manager.stop()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a host name: resolved by bind
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise InputError(f"port {port} on {host} is already in use: pick another with --port") from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def start(
    db: str | Path,
    *,
    host: str | None = None,
    port: int = 8000,
    show_names: bool = False,
    poll: float = 2.0,
    background: bool = True,
    token: str | None = None,
) -> Explorer:
    """Prepare the snapshot, bind, and serve (in a thread when `background`, else call .serve()).

    `host` None binds to 127.0.0.1 without a token; any `host` requires one
    (generated unless given).
    """
    import uvicorn

    db = Path(db)
    if not db.exists():
        raise InputError(f"no database at {db}: run `comments sync` or `comments import` first")
    bind_host = host or LOOPBACK
    if host is not None:
        token = token or secrets.token_urlsafe(24)
    else:
        token = None
    sock = _bind(bind_host, port)
    actual_port = sock.getsockname()[1]
    manager = SnapshotManager(db, poll=poll)
    manager.start(background=True)
    app = create_app(manager, token=token, loopback_port=None if token else actual_port, show_names=show_names)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    shown_host = f"[{bind_host}]" if ":" in bind_host else bind_host
    base = f"http://{shown_host}:{actual_port}/"
    explorer = Explorer(url=base + (f"?token={token}" if token else ""), base_url=base, token=token,
                        manager=manager, _server=server, _thread=None)
    if background:
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="explorer-http", daemon=True)
        thread.start()
        explorer._thread = thread
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        explorer._sock = sock  # type: ignore[attr-defined]
    return explorer


def serve_forever(explorer: Explorer) -> None:
    """Run the server in this thread until Ctrl-C."""
    logging.getLogger("comments.explorer").setLevel(logging.WARNING)
    try:
        explorer._server.run(sockets=[explorer._sock])  # type: ignore[attr-defined]
    finally:
        explorer.manager.stop()

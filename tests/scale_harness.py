"""A Prefect server, a work pool, the project's deployments and N process workers, on 127.0.0.1.

Used by tests/test_scale.py and benchmarks/scale.py: everything runs as real
processes started the way the README's "Scale out" section says, from this
checkout (PYTHONPATH), with Prefect's home and database under `root`. Every
process is killed with the one that started it (comments.processes).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
POOL = "comments-pool"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectStack:
    def __init__(self, root: Path, env: dict[str, str] | None = None):
        self.root = Path(root)
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        python_path = os.pathsep.join([str(REPO / "src"), str(REPO)])
        self.env = {
            **os.environ,
            "PYTHONPATH": python_path,
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
            **(env or {}),
        }
        self.bin = Path(sys.executable).parent
        # The server's SQLite file in memory when the machine has /dev/shm: every slot of a rate
        # limit is a write to it, and on disk its commits queue behind the DuckDB writers' (seconds)
        shm = Path("/dev/shm")
        self._shm = Path(tempfile.mkdtemp(prefix="comments-prefect-", dir=shm)) if shm.is_dir() else None
        self.prefect_db = (self._shm or self.root) / "prefect.db"
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    # ------------------------------------------------------------ processes

    def _popen(self, args: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        from comments.processes import own_group_dying_with_parent

        # its own process group (stopped as a whole), and killed by the kernel if this process dies
        return subprocess.Popen(
            args, env=env or self.env, cwd=self.root, stdout=open(self.logs / log, "wb"), stderr=subprocess.STDOUT,
            preexec_fn=own_group_dying_with_parent,
        )

    def start_server(self, timeout: float = 180) -> None:
        import prefect_template

        prefect_template.seed(self.prefect_db)  # migrated already: the server answers in 9 s, not 22 s
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        env.update({
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.prefect_db}",
            # only the services these runs need: lease expiry (repossessor) and task-run states; the
            # others write to the server's SQLite file, which every slot of a rate limit also needs
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
        })
        self.server = self._popen(
            [str(self.bin / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-ui", "--analytics-off"], "server.log", env)
        self.wait_for(lambda: requests.get(f"{self.api}/health", timeout=2).ok, timeout, "the Prefect server")

    def cli(self, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """`comments ...` from this checkout, against this server."""
        return subprocess.run(
            [sys.executable, "-m", "comments.cli", *args], env={**self.env, **(env or {})}, cwd=self.root,
            capture_output=True, text=True, timeout=timeout,
        )

    def prefect(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(self.bin / "prefect"), "--no-prompt", *args], env=self.env, cwd=REPO,
            capture_output=True, text=True, timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        return out

    def deploy(self) -> None:
        """The README's steps: a process work pool, then every deployment of prefect.yaml."""
        self.prefect("work-pool", "create", POOL, "--type", "process")
        self.prefect("deploy", "--all")

    def start_workers(self, n: int, env: dict[str, str]) -> None:
        for i in range(n):
            self.workers.append(self._popen(
                [str(self.bin / "prefect"), "worker", "start", "--pool", POOL, "--type", "process",
                 "--name", f"worker-{i + 1}"],
                f"worker-{i + 1}.log", {**self.env, **env}))

    def wait_for(self, check, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in [self.server, *self.workers]:
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"a process ended early ({proc.args[:3]}): see {self.logs}")
            try:
                value = check()
            except (requests.RequestException, OSError):
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s (logs: {self.logs})")

    def stop(self) -> None:
        """SIGTERM every process started here and all they started (a worker's flow runs have
        sessions of their own), then SIGKILL what is left after 20 s."""
        import psutil

        procs = []
        for proc in [*self.workers, self.server]:
            if proc is not None and proc.poll() is None:
                try:
                    parent = psutil.Process(proc.pid)
                    procs += [parent, *parent.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
        for proc in procs:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=20)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        for proc in [*self.workers, self.server]:
            if proc is not None:
                proc.poll()
        if self._shm is not None:
            shutil.rmtree(self._shm, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------ the API

    def client(self):
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api)

    def start_run(self, deployment: str, parameters: dict) -> str:
        with self.client() as client:
            dep = client.read_deployment_by_name(deployment)
            run = client.create_flow_run_from_deployment(dep.id, parameters=parameters)
            return str(run.id)

    def flow_runs(self) -> list:
        with self.client() as client:
            return client.read_flow_runs(limit=200)

"""How a command's stages run: as Prefect flows when runs are to be recorded, else directly.

Both ways run the same stages in the same order (`comments.runs`); only the
bookkeeping differs. COMMENTS_PREFECT decides (docs/prefect.md):

- `auto` (default): the Prefect flows when a Prefect API is configured
  (PREFECT_API_URL in the environment, in the active Prefect profile, or in
  ./prefect.toml), so every run, its tasks and artifacts are recorded there;
  otherwise the stages are called directly, without Prefect's throwaway local
  server (8-12 s per command on a 2-core machine) and without importing
  Prefect at all (~1.5 s).
- `on`: always the flows; with no API configured, Prefect's local server,
  started by this process and ended with it (flows/local_api.py).
- `off`: never, even with an API configured.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from comments import settings


def run(direct: Callable, flow: str, *args, hooks: dict | None = None, **kwargs):
    """`direct(*args, **kwargs, **hooks)`, or the Prefect flow `flow` ("module:function" in
    flows/) called with the same arguments while its module holds the `hooks` callables."""
    hooks = hooks or {}
    if not use_prefect():
        return direct(*args, **kwargs, **hooks)
    module_name, _, name = flow.partition(":")
    module = flow_module(module_name)
    with with_hooks(module, **hooks):
        return getattr(module, name)(*args, **kwargs)


def use_prefect() -> bool:
    mode = settings.prefect_mode()
    return mode == "on" or (mode == "auto" and prefect_api_url() is not None)


def prefect_api_url() -> str | None:
    """The Prefect API this process would talk to, read the way Prefect reads it, without importing Prefect."""
    if url := os.environ.get("PREFECT_API_URL"):
        return url
    url = _toml_get(Path("prefect.toml"), ("api", "url"))
    if url:
        return url
    profiles = _toml(_profiles_path())
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = profiles.get("profiles", {}).get(active) if isinstance(active, str) else None
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url or None


def flow_module(name: str) -> ModuleType:
    """`flows.<name>`, with a Prefect API to record into (a local one when none is configured)."""
    from flows import local_api

    local_api.ensure()
    return importlib.import_module(f"flows.{name}")


@contextmanager
def with_hooks(module: ModuleType, **callables) -> Iterator[None]:
    """Give a flow module the CLI's callbacks (progress bars...) for one run."""
    if not callables:
        yield
        return
    saved = dict(module.hooks)
    module.hooks.update(callables)
    try:
        yield
    finally:
        module.hooks.update(saved)


def _profiles_path() -> Path:
    if path := os.environ.get("PREFECT_PROFILES_PATH"):
        return Path(path)
    home = os.environ.get("PREFECT_HOME")
    return (Path(home) if home else Path.home() / ".prefect") / "profiles.toml"


def _toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _toml_get(path: Path, keys: tuple[str, ...]):
    value = _toml(path) if path.is_file() else {}
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None

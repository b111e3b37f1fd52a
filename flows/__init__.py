"""Prefect 3 flows: thin wiring over the `comments` library.

Importing this package sets quiet, offline-friendly Prefect defaults before
Prefect itself is imported (a user's own environment still wins: setdefault).
A normal run then prints INFO lines only: no ERROR, no traceback.
"""

import os

_DEFAULTS = {
    # Server-side usage analytics: cannot reach its endpoint offline and would
    # log an ERROR ("Failed to send telemetry").
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Client-side SDK analytics (and its first-run notice) honour the DO_NOT_TRACK
    # convention; set only for this process.
    "DO_NOT_TRACK": "1",
    # The ephemeral API server starts in ~10 s on an idle 2-core machine; the
    # default 20 s limit fails ("Timed out while attempting to connect to
    # ephemeral Prefect API server") when the machine is busy.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}
for _name, _value in _DEFAULTS.items():
    os.environ.setdefault(_name, _value)

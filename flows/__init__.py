"""Prefect 3 flows: thin wiring over the `comments` library.

Importing this package sets quiet, offline-friendly Prefect defaults before
Prefect itself is imported (a user's own environment still wins).
"""

import os

_DEFAULTS = {
    # Telemetry cannot reach its server offline and would log an ERROR.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
for _name, _value in _DEFAULTS.items():
    os.environ.setdefault(_name, _value)

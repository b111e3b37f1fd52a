"""comments: regulations.gov public comments into DuckDB, and what they say."""

__version__ = "0.1.0"

# A process started by `comments track --serve` (a flow run of Prefect's runner) ends with it:
# checked first thing in every process of ours (comments.processes).
from comments.processes import die_with_owner as _die_with_owner  # noqa: E402

_die_with_owner()

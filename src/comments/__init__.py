"""comments: regulations.gov public comments into DuckDB, and what they say."""

__version__ = "0.1.0"

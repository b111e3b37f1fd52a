"""`comments keys setup`: the shared rate limits that let many workers spend the same API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from comments.errors import ConfigError

keys_app = typer.Typer(
    help="API keys shared by several workers: one Prefect rate limit per key (docs/scale.md).",
    no_args_is_help=True,
)


@keys_app.command("setup")
def setup_command(
    budget: Annotated[float | None, typer.Option("--budget", help="Requests each key may send per window (default: $REGULATIONS_GOV_RATE_LIMIT, 1,000).")] = None,
    window: Annotated[float, typer.Option("--window", help="The budget's window in seconds (the API's is a rolling hour).")] = 3600.0,
    burst: Annotated[int | None, typer.Option("--burst", help="Requests a key may send at once after a pause (default 1% of the budget, 1 to 10).")] = None,
    slack: Annotated[float, typer.Option("--slack", help="Seconds a request may take from its slot to the API (kept out of the budget).")] = 5.0,
    downloads_per_second: Annotated[float, typer.Option("--downloads-per-second", help="Attachment downloads per second, all workers together.")] = 4.0,
) -> None:
    """Create or update one Prefect rate limit per key in REGULATIONS_GOV_API_KEY, and one for downloads.

    Every worker that syncs then takes a slot of its key's limit before each
    request, so all of them together stay under the key's budget in every
    rolling window. Run it once per Prefect server (and again after adding a
    key); needs PREFECT_API_URL. Keys are named by a short hash, never shown.
    """
    from comments import settings

    keys = settings.api_keys()
    if budget is None:
        budget = settings.rate_limit_per_hour()
    if downloads_per_second <= 0 or slack < 0:
        raise ConfigError("--downloads-per-second must be positive and --slack not negative")
    from comments.commands.runner import prefect_api_url
    from flows import limits

    if prefect_api_url() is None:
        raise ConfigError(
            "no Prefect server to keep the limits: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api) "
            "to the server your workers use"
        )
    try:
        made = limits.setup_limits(
            keys, budget, window, burst=burst, slack_s=slack, downloads_per_second=downloads_per_second,
        )
    except OSError as exc:  # httpx connection errors are OSErrors
        raise ConfigError(f"cannot reach the Prefect server at PREFECT_API_URL: {exc}") from None
    for item in made:
        typer.echo(
            f"{item['name']}: {item['what']}, burst {item['limit']}, one slot back every "
            f"{1 / item['slot_decay_per_second']:.3g} s"
        )
    per_window = made[0]["limit"] + made[0]["slot_decay_per_second"] * window
    typer.echo(f"each key: at most {per_window:,.0f} requests in any {window:g}-second window (budget {budget:,.0f})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

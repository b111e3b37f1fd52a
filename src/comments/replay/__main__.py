"""`python -m comments.replay`: serve a snapshot by hand until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from comments.errors import UserError
from comments.replay import Faults, ReplayServer, Snapshot
from comments.resources import bundled_mirrulations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m comments.replay",
        description="Serve a local snapshot as regulations.gov API v4 on 127.0.0.1.",
    )
    parser.add_argument("--mirrulations", type=Path, metavar="DIR",
                        help="a Mirrulations-layout folder (default: the bundled CMS-2022-0163 docket)")
    parser.add_argument("--docket", metavar="ID", help="serve only this docket from --mirrulations")
    parser.add_argument("--synthetic", type=int, metavar="N", help="serve N synthetic comments instead")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--key", action="append", metavar="K",
                        help="an accepted API key (repeatable; default test-key); 'any' accepts every key")
    parser.add_argument("--rate-limit", type=int, metavar="N", help="requests per hour per key")
    parser.add_argument("--rate-window", type=float, default=3600.0, metavar="S",
                        help="the rate limit's rolling window in seconds (default 3600: an hour)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S",
                        help="seconds added to every response (the real API takes a few hundred ms)")
    args = parser.parse_args(argv)
    try:
        if args.synthetic:
            snap = Snapshot.synthetic(args.synthetic, **({"docket_id": args.docket} if args.docket else {}))
        else:
            snap = Snapshot.from_mirrulations(args.mirrulations or bundled_mirrulations(), args.docket)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    keys = None if args.key == ["any"] else tuple(args.key or ("test-key",))
    try:
        server = ReplayServer(snap, api_keys=keys, rate_limit_per_hour=args.rate_limit,
                              rate_limit_window_s=args.rate_window, port=args.port,
                              faults=Faults(latency=args.latency) if args.latency > 0 else None).start()
    except OSError as exc:
        print(f"error: cannot listen on port {args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        print(f"serving {len(snap)} comments of {snap.docket_id} at {server.base_url} (Ctrl-C stops)", flush=True)
        print(f"  REGULATIONS_GOV_BASE_URL={server.base_url}", flush=True)
        while True:
            # short sleeps: Ctrl-C may be delivered to a server thread, and Python raises it in the
            # main thread only when that thread next runs bytecode (a one-hour sleep would hide it)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m consumer.sandbox`: the options of `io-relay sandbox`, for scripts and fixtures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from consumer.errors import ConfigurationError
from consumer.sandbox.server import serve
from consumer.sandbox.settings import (
    APP_OPEN_BUDGET_MS,
    DOCUMENT_BEARER_DEFAULT,
    IO_API_DIR_ENV,
    RateLimitPolicy,
    SandboxSettings,
)


def _rate_limit(text: str) -> RateLimitPolicy | None:
    try:
        return RateLimitPolicy.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m consumer.sandbox", description="A stand-in for IO's services API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--profiles", type=Path, help="citizens (and keys), JSON or YAML")
    parser.add_argument(
        "--rate-limit", type=_rate_limit, default="150/5s", help="CALLS/SECONDSs or off"
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of calls, 0..1")
    parser.add_argument("--faults", default="500,503,slow,drop", help="kinds, comma-separated")
    parser.add_argument("--slow-ms", type=int, default=10_000)
    parser.add_argument("--processing-delay-ms", type=int, default=1_000)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--document-token",
        default=DOCUMENT_BEARER_DEFAULT,
        help="bearer token of the document store stand-in (GET /documents/...)",
    )
    parser.add_argument(
        "--io-api-dir",
        type=Path,
        help=f"IO's spec copies (default ${IO_API_DIR_ENV} or ../shared/io-api)",
    )
    parser.add_argument(
        "--open-budget-ms",
        type=int,
        default=APP_OPEN_BUDGET_MS,
        help="how long the open replay may take, as the IO app's budget",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = vars(build_parser().parse_args(argv))
    if options["io_api_dir"] is None:  # left out: the settings' default reads the environment
        del options["io_api_dir"]
    try:
        settings = SandboxSettings(**options)
        serve(settings)
    except (ConfigurationError, ValidationError) as exc:
        print(f"io sandbox: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`b24shim emulator`: run a local portal from the command line until interrupted.

The first two lines of output are exactly `admin <webhook-url>` and `restricted <webhook-url>`
(flushed at once, so a parent process can read them); more `name value` lines follow (the
extranet webhook, with `--tls` the `ca <pem-path>` line, the journal URL, the OAuth client and a
token pair), then a "serving" line. SIGINT (Ctrl-C) and SIGTERM stop it cleanly with exit
status 0.

`--journal URL` and `--clear-journal URL` do not serve: they read (and empty) the request
journal of a running emulator, given its `journal` line, and print one JSON line per request.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

import requests

from ._emulator import Emulator
from ._faults import FaultConfig
from ._journal import DEFAULT_JOURNAL_SIZE

__all__ = ["add_arguments", "main", "run"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _non_negative(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a non-negative {kind.__name__}, got {text!r}"
            ) from None
        if value < 0:
            raise argparse.ArgumentTypeError(
                f"expected a non-negative {kind.__name__}, got {text!r}"
            )
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_non_negative(int), default=0, help="port to bind (default 0: any free port)"
    )
    parser.add_argument(
        "--rate",
        type=_non_negative(float),
        default=2.0,
        help="leaky-bucket drain per second (default 2; 0 = no limit)",
    )
    parser.add_argument(
        "--burst", type=_non_negative(int), default=50, help="leaky-bucket size (default 50)"
    )
    parser.add_argument(
        "--operating-limit",
        type=_non_negative(float),
        default=480.0,
        help="method seconds per 10 minutes before 429 OPERATION_TIME_LIMIT (default 480)",
    )
    parser.add_argument(
        "--no-item-api",
        action="store_true",
        help="an old on-premise portal: crm.item.* answer ERROR_METHOD_NOT_FOUND",
    )
    parser.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="share of REST requests given a fault, 0..1 (default 0)",
    )
    parser.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault generator (default 0)"
    )
    parser.add_argument(
        "--leads", type=_non_negative(int), default=0, help="leads to create at start (default 0)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate made at start (extra tls); prints 'ca <pem path>'",
    )
    parser.add_argument(
        "--legacy-not-found",
        choices=("source", "docs"),
        default="source",
        help="crm.lead.delete of a missing lead: 'source' (current portals, ERROR_CORE "
        "'Item not found'; default) or 'docs' (the documented '' 'Not found')",
    )
    parser.add_argument(
        "--journal-size",
        type=_positive_int,
        default=DEFAULT_JOURNAL_SIZE,
        help=f"requests the journal keeps, newest first (default {DEFAULT_JOURNAL_SIZE})",
    )
    parser.add_argument(
        "--connection-timeout",
        type=_positive_float,
        default=30.0,
        help="seconds before an idle or half-sent connection is closed (default 30)",
    )
    parser.add_argument(
        "--journal",
        metavar="URL",
        help="do not serve: print the journal of the running emulator at URL as JSON lines",
    )
    parser.add_argument(
        "--clear-journal",
        metavar="URL",
        help="do not serve: print, then empty, the journal of the running emulator at URL",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _read_journal(url: str, *, clear: bool) -> int:
    """Print a running emulator's journal as JSON lines; 0, or 2 when it cannot be read."""
    if clear:
        url += "&clear=1" if "?" in url else "?clear=1"
    try:
        # requests honours REQUESTS_CA_BUNDLE, for an emulator started with --tls
        answer = requests.get(url, timeout=30)
        answer.raise_for_status()
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        # the URL carries the admin code: never echo it
        print(
            f"b24shim emulator: error: cannot read the journal: {type(exc).__name__}",
            file=sys.stderr,
        )
        return 2
    for record in body["records"]:
        print(json.dumps(record, ensure_ascii=False), flush=True)
    if body.get("dropped"):
        print(
            f"b24shim emulator: note: {body['dropped']} older requests are no longer kept "
            f"(the journal keeps {body['limit']})",
            file=sys.stderr,
        )
    return 0


def _say(name: str, value: object) -> None:
    print(f"{name} {value}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the exit status (0 on a clean stop, 2 on bad flags)."""
    if args.journal or args.clear_journal:
        return _read_journal(args.clear_journal or args.journal, clear=bool(args.clear_journal))
    try:
        faults = (
            FaultConfig(rate=args.fault_rate, seed=args.fault_seed) if args.fault_rate else None
        )
        emulator = Emulator(
            host=args.host,
            port=args.port,
            rate=args.rate,
            burst=args.burst,
            operating_limit=args.operating_limit,
            item_api=not args.no_item_api,
            faults=faults,
            legacy_not_found=args.legacy_not_found,
            tls=args.tls,
            connection_timeout=args.connection_timeout,
            journal_size=args.journal_size,
        )
    except (ValueError, RuntimeError) as exc:
        print(f"b24shim emulator: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        with emulator:
            for number in range(1, args.leads + 1):
                emulator.add_lead({"TITLE": f"Emulator lead {number}"})
            _say("admin", emulator.admin_webhook)
            _say("restricted", emulator.restricted_webhook)
            _say("extranet", emulator.extranet_webhook)
            if emulator.tls:
                _say("ca", emulator.ca_bundle)
            _say("journal", emulator.journal_url)
            access, refresh = emulator.issue_tokens(user_id=1)
            _say("client_id", emulator.client_id)
            _say("client_secret", emulator.client_secret)
            _say("access_token", access)
            _say("refresh_token", refresh)
            _say("token_url", emulator.token_url)
            _say("serving", f"{emulator.base_url} (Ctrl-C to stop)")
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass  # a signal that arrived before the handlers were installed
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m b24shim.emulator`."""
    parser = argparse.ArgumentParser(
        prog="python -m b24shim.emulator",
        description="Run a local Bitrix24 portal emulator on loopback.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))

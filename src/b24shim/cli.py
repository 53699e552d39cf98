"""The ``b24shim`` command line.

Exit status: 0 when all went well, 1 when a delete failed (or its outcome is unknown), 2 for
bad usage or configuration (including credentials the portal refused: the job stops at the
first such answer), 130 when ``delete-leads`` was interrupted with nothing failed, 141 when
its output was closed early (``| head``) with nothing failed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.metadata
import json
import os
import signal
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import FrameType
from typing import IO, Any, TextIO

import tqdm

import b24shim
from b24shim import report as report_cli
from b24shim.codes import JOB_STOPPING, ErrorCode
from b24shim.demo import run_demo
from b24shim.emulator import _cli as emulator_cli
from b24shim.errors import B24ShimWarning, ConfigError, InvalidLeadId
from b24shim.flags import Stage
from b24shim.limits import RateLimit
from b24shim.result import DeleteResult, ErrorInfo, Outcome
from b24shim.shim import LeadShim

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_OUTPUT_CLOSED = 0, 1, 2, 130, 141

# The settings to look at for each error that stops a job (codes.JOB_STOPPING says what to fix).
_SETTINGS_TO_CHECK = {
    ErrorCode.INVALID_CREDENTIALS: "B24SHIM_WEBHOOK_URL, or B24SHIM_PORTAL_URL and "
    "B24SHIM_ACCESS_TOKEN",
    ErrorCode.EXPIRED_TOKEN: "B24SHIM_REFRESH_TOKEN, B24SHIM_CLIENT_ID, B24SHIM_CLIENT_SECRET",
    ErrorCode.HTTPS_REQUIRED: "B24SHIM_WEBHOOK_URL or B24SHIM_PORTAL_URL",
    ErrorCode.PORTAL_DELETED: "B24SHIM_WEBHOOK_URL or B24SHIM_PORTAL_URL",
    ErrorCode.PORTAL_MOVED: "B24SHIM_WEBHOOK_URL, or B24SHIM_PORTAL_URL and B24SHIM_TOKEN_URL",
    ErrorCode.OVERLOAD_LIMIT: "--rate-limit or B24SHIM_RATE_LIMIT",
}


def _environ(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if getattr(args, "stage", None):
        env["B24SHIM_LEAD_DELETE_STAGE"] = args.stage
    if getattr(args, "rate_limit", None):
        env["B24SHIM_RATE_LIMIT"] = args.rate_limit
    return env


def _print_json(data: dict[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")


def _cmd_delete_lead(args: argparse.Namespace) -> int:
    shim = LeadShim.from_env(_environ(args))
    result = shim.delete_lead(args.lead_id)
    _print_json(result.to_dict(), sys.stdout)
    stopping = _job_stopping(result)
    if stopping is not None:
        _say_what_to_fix(stopping, sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if result.ok else EXIT_FAILED


class Summary:
    """Counts of a bulk run: outcomes, failures by code, differences by kind."""

    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failed_by_code: collections.Counter[str] = collections.Counter()
        self.differences: collections.Counter[str] = collections.Counter()

    def add(self, result: DeleteResult) -> None:
        """Count one result."""
        self.outcomes[result.outcome.value] += 1
        if result.outcome is Outcome.FAILED and result.error is not None:
            self.failed_by_code[result.error.code.value] += 1
        for difference in result.differences:
            self.differences[difference.kind] += 1

    @property
    def total(self) -> int:
        """How many results were counted."""
        return sum(self.outcomes.values())

    @property
    def all_ok(self) -> bool:
        """True when nothing failed and no outcome is unknown."""
        return not (self.outcomes[Outcome.FAILED.value] or self.outcomes[Outcome.UNKNOWN.value])

    def lines(self, *, stopped: str = "") -> list[str]:
        """The human-readable summary; ``stopped`` says why the job stopped early."""
        ids = "id" if self.total == 1 else "ids"
        head = f"{self.total} {ids} processed" + (f" ({stopped})" if stopped else "")
        out = [
            head,
            f"  deleted         {self.outcomes[Outcome.DELETED.value]}",
            f"  already absent  {self.outcomes[Outcome.ALREADY_ABSENT.value]}",
            f"  failed          {self.outcomes[Outcome.FAILED.value]}",
        ]
        out += [f"    {code:<24}{n}" for code, n in sorted(self.failed_by_code.items())]
        out.append(f"  unknown         {self.outcomes[Outcome.UNKNOWN.value]}")
        out.append(f"  differences     {sum(self.differences.values())}")
        out += [f"    {kind:<24}{n}" for kind, n in sorted(self.differences.items())]
        return out


class _Progress:
    """tqdm's bar on stderr, only when stderr is a terminal: count, total, rate and ETA.

    It never mixes with the JSON lines: when stdout is a terminal too (the same screen), the
    bar is cleared before each line is written. Results come in bursts, one batch at a time,
    and tqdm redraws at most every ``mininterval``, so the bar is also redrawn when a burst
    ends (``delete_leads`` asks for the next id): it never shows the batch before last.
    """

    def __init__(self, err: IO[str], out: IO[str], total: int | None) -> None:
        enabled = err.isatty()
        self.bar = tqdm.tqdm(
            total=total,
            unit=" ids",
            file=err,
            disable=not enabled,
            leave=False,
            dynamic_ncols=True,
            mininterval=0.1,
        )
        self.shares_screen = enabled and out.isatty()
        self.behind = False

    def add(self, summary: Summary) -> None:
        failed = summary.outcomes[Outcome.FAILED.value] + summary.outcomes[Outcome.UNKNOWN.value]
        self.bar.set_postfix_str(f"{failed} failed", refresh=False)
        self.bar.update(1)
        self.behind = True

    def before_output(self) -> None:
        if self.shares_screen:
            self.bar.clear()

    def catch_up(self) -> None:
        """Draw what the last burst of results left undrawn."""
        if self.behind:
            self.behind = False
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _count_ids(path: str) -> int | None:
    """How many ids a regular file holds (the bar's total); None for pipes and devices."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as lines:
            return sum(1 for line in lines if line.strip() and not line.lstrip().startswith(b"#"))
    except OSError:
        return None


def _read_ids(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text


class _Stopped(Exception):
    """Raised into ``delete_leads`` instead of the next id: the job must not read or send more.

    Ending the input would not do: ``delete_leads`` would then send the batch it was filling.
    """


class _Feed:
    """The ids handed to ``delete_leads``, stopping the job once it must send nothing new.

    ``delete_leads`` asks for the next id only once it has yielded every result of the batches
    it sent, so stopping here loses no result: the ids it had read but not sent yet are counted
    as ``read - results``.
    """

    def __init__(
        self,
        ids: Iterable[object],
        stop: threading.Event,
        on_pull: Callable[[], object] | None = None,
    ) -> None:
        self._ids = ids
        self.stop = stop
        self.on_pull = on_pull
        self.output_closed = False
        self.read = 0
        self.waiting = False

    @property
    def stopping(self) -> bool:
        return self.stop.is_set() or self.output_closed

    def interrupt(self) -> None:
        """Ctrl-C: stop; when blocked waiting for input (a terminal, a pipe), stop now."""
        self.stop.set()
        if self.waiting:
            raise _Stopped

    def __iter__(self) -> Iterator[object]:
        ids = iter(self._ids)
        while not self.stopping:
            if self.on_pull is not None:
                self.on_pull()
            self.waiting = True
            try:
                value = next(ids)
            except StopIteration:
                return
            finally:
                self.waiting = False
            if self.stopping:
                break  # read after the stop: not taken
            self.read += 1
            yield value
        raise _Stopped


@contextlib.contextmanager
def _stop_on_interrupt(feed: _Feed) -> Iterator[None]:
    """Ctrl-C stops the job: the batch in flight completes, nothing new is sent."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if feed.stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        sys.stderr.write(
            "\nstopping: the batch in flight finishes, nothing new is sent "
            "(Ctrl-C again to abort)\n"
        )
        feed.interrupt()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _discard(out: IO[str]) -> None:
    """After a closed pipe, send what is still buffered for ``out`` nowhere, quietly."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _job_stopping(result: DeleteResult) -> ErrorInfo | None:
    error = result.error
    return error if error is not None and error.code in JOB_STOPPING else None


def _say_what_to_fix(error: ErrorInfo, err: IO[str]) -> None:
    settings = _SETTINGS_TO_CHECK.get(error.code, "")
    err.write(
        f"b24shim: error: {JOB_STOPPING[error.code]}"
        + (f" ({settings})" if settings else "")
        + f"; the portal answered {error.code.value}: {error.description or 'no description'}; "
        "no further request was sent\n"
    )


def run_bulk(
    shim: LeadShim,
    ids: Iterable[object],
    out: IO[str],
    err: IO[str],
    stop: threading.Event,
    *,
    total: int | None = None,
) -> int:
    """Delete ``ids``, one JSON line per result on ``out``, the summary on ``err``.

    A progress bar (of ``total`` ids, when known) is drawn on ``err`` when it is a terminal.

    Stops sending (the batch in flight still completes and is counted) when ``stop`` is set,
    when ``out`` is closed (``| head``), or at the first answer that shows a credentials or
    configuration error (:data:`b24shim.codes.JOB_STOPPING`).
    """
    feed = ids if isinstance(ids, _Feed) else _Feed(ids, stop)
    summary = Summary()
    progress = _Progress(err, out, total)
    feed.on_pull = progress.catch_up
    stopping: ErrorInfo | None = None
    unprinted = 0
    try:
        with contextlib.suppress(_Stopped):
            for result in shim.delete_leads(feed):
                summary.add(result)
                progress.add(summary)
                stopping = stopping or _job_stopping(result)
                if feed.output_closed:
                    unprinted += 1
                    continue
                try:
                    progress.before_output()
                    _print_json(result.to_dict(), out)
                    out.flush()  # JSON lines stream out as results come, not when a buffer fills
                except BrokenPipeError:
                    # The reader went away (`| head`): count what was done, send nothing new.
                    feed.output_closed = True
                    unprinted += 1
                    _discard(out)
    finally:
        progress.close()
        with contextlib.suppress(BrokenPipeError):
            out.flush()
        reason = (
            "stopped: stdout was closed"
            if feed.output_closed
            else "stopped by Ctrl-C"
            if stop.is_set()
            else ""
        )
        for line in summary.lines(stopped=reason):
            err.write(line + "\n")
        if reason and feed.read > summary.total:
            err.write(f"  not sent        {feed.read - summary.total} (read before the stop)\n")
        if unprinted:
            err.write(f"  not printed     {unprinted} (counted above; stdout was closed)\n")
    if stopping is not None:
        _say_what_to_fix(stopping, err)
        return EXIT_USAGE
    if not summary.all_ok:
        return EXIT_FAILED
    if feed.output_closed:
        return EXIT_OUTPUT_CLOSED
    return EXIT_INTERRUPTED if stop.is_set() else EXIT_OK


def _cmd_delete_leads(args: argparse.Namespace) -> int:
    shim = LeadShim.from_env(_environ(args))
    with contextlib.ExitStack() as stack:
        if args.file == "-":
            source: IO[str] = sys.stdin
        else:
            try:
                source = stack.enter_context(open(args.file, encoding="utf-8"))
            except OSError as exc:
                print(f"b24shim: error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return EXIT_USAGE
        total = _count_ids(args.file) if args.file != "-" and sys.stderr.isatty() else None
        stop = threading.Event()
        feed = _Feed(_read_ids(source), stop)
        with _stop_on_interrupt(feed):
            return run_bulk(shim, feed, sys.stdout, sys.stderr, stop, total=total)


def _cmd_emulator(args: argparse.Namespace) -> int:
    return emulator_cli.run(args)


def _cmd_demo(_args: argparse.Namespace) -> int:
    return run_demo(sys.stdout)


def _version() -> str:
    try:
        return importlib.metadata.version("b24shim")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return f"{b24shim.__version__} (not installed)"


def _rate_limit(text: str) -> str:
    """Check ``--rate-limit`` as typed, so that its error names the flag, not the variable."""
    try:
        RateLimit.parse(text, setting="--rate-limit")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="b24shim",
        description="Move Bitrix24 integrations from crm.lead.delete to crm.item.delete.",
    )
    parser.add_argument("--version", action="version", version=f"b24shim {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stages = [s.value for s in Stage]

    demo = commands.add_parser(
        "demo",
        help="run every stage on a built-in portal emulator and show the differences",
        description="Start a local portal emulator in-process, delete leads through every "
        "stage, and print the normalized results, the requests made and the differences "
        "found. Needs no network and no configuration.",
    )
    demo.set_defaults(handler=_cmd_demo)

    one = commands.add_parser(
        "delete-lead",
        help="delete one lead, configured from B24SHIM_* environment variables",
        description="Delete one lead and print the normalized result as JSON. Configuration "
        "comes from the B24SHIM_* environment variables (see MIGRATION.md).",
    )
    one.add_argument("lead_id", metavar="ID", help="the lead id (digits)")
    one.add_argument("--stage", choices=stages, help="override B24SHIM_LEAD_DELETE_STAGE")
    one.set_defaults(handler=_cmd_delete_lead)

    many = commands.add_parser(
        "delete-leads",
        help="delete many leads through batch, ids from a file or stdin",
        description="Delete the leads listed one id per line in FILE (or stdin), printing one "
        "JSON line per result on stdout and a summary on stderr. Ctrl-C lets the batch in "
        "flight finish and sends nothing new; so does a closed stdout (| head). Credentials "
        "the portal refuses stop the job at the first answer (exit status 2).",
    )
    many.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="file of ids, one per line ('-' or nothing: stdin)",
    )
    many.add_argument("--stage", choices=stages, help="override B24SHIM_LEAD_DELETE_STAGE")
    many.add_argument(
        "--rate-limit",
        metavar="LIMIT",
        type=_rate_limit,
        help="standard, enterprise, off or RATE/BURST (overrides B24SHIM_RATE_LIMIT)",
    )
    many.set_defaults(handler=_cmd_delete_leads)

    report = commands.add_parser(
        "report",
        help="is the switch proven safe? a verdict on evidence logs (B24SHIM_DIFFERENCE_LOG)",
    )
    report_cli.add_arguments(report)
    report.set_defaults(handler=report_cli.run)

    emulator = commands.add_parser(
        "emulator",
        help="run a local Bitrix24 portal emulator over HTTP",
        description="Serve a local Bitrix24 portal on loopback until interrupted. Prints "
        "'admin <webhook-url>' and 'restricted <webhook-url>' first.",
    )
    emulator_cli.add_arguments(emulator)
    emulator.set_defaults(handler=_cmd_emulator)
    return parser


@contextlib.contextmanager
def _warnings_as_notes(err: IO[str]) -> Iterator[None]:
    """b24shim's warnings become one ``b24shim: note: ...`` line each, never a warning dump.

    They are shown whatever ``-W`` or ``PYTHONWARNINGS`` say (a note is not an error); other
    packages' warnings are left to Python's own handling.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("default", B24ShimWarning)
        python_way = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, B24ShimWarning):
                text = " ".join(str(message).split())
                err.write(f"b24shim: note: {text}\n")
            else:
                python_way(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _warnings_as_notes(sys.stderr):
            status: int = args.handler(args)
    except (ConfigError, InvalidLeadId) as exc:
        print(f"b24shim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        _discard(sys.stdout)
        return EXIT_OUTPUT_CLOSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # a second Ctrl-C; the summary is already out
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

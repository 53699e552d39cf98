"""A real ``redis-server`` of the test's own, on a free loopback port, with no persistence.

Used by the tests and the benchmarks (which put this folder on ``sys.path``). Debian's
``redis-server`` package provides the binary; ``.ci/run`` installs it when it is missing.
Nothing here relies on a system service: each :class:`RedisServer` starts its own process and
stops it, and can kill and restart it on the same port (a Redis restarted mid-job).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from types import TracebackType

__all__ = ["RedisServer", "free_port"]

#: Seconds to wait for the server to say it is ready or to exit.
_START_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``redis-server`` on ``127.0.0.1:port``: no RDB, no AOF, its own temporary folder."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: apt-get install -y redis-server "
                "(.ci/run installs it when it is missing)"
            )
        self.binary = binary
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="b24shim-redis-")
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start the server and return once it accepts connections."""
        if self.running:
            return self
        process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--logfile",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._process = process
        assert process.stdout is not None
        seen: list[str] = []
        # The server logs "Ready to accept connections" once it listens: read its log up to
        # that line (or its exit), rather than polling the port.
        for line in process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            process.wait(timeout=_START_TIMEOUT)
            process.stdout.close()
            self._process = None
            raise RuntimeError(f"redis-server did not start on {self.port}: {''.join(seen)}")
        # Keep draining its log so that the pipe never fills and blocks the server.
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it to exit."""
        self._end(kill=False)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would: it loses all it held."""
        self._end(kill=True)

    def restart(self) -> None:
        """Kill it and start a new, empty one on the same port."""
        self.kill()
        self.start()

    def _end(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        process.wait(timeout=_START_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass

"""The HTTP side: HTTP/1.1 with keep-alive (or HTTPS) on one asyncio event loop in one thread.

Why not `http.server`: its thread per connection made throughput fall as clients were added
(1,600 requests/s to one client, 1,050 to 16: the threads contend for the GIL), held a thread
forever per idle or half-sent connection, and its `shutdown()` waited up to a poll interval.
One event loop serves every connection in turn (the portal answers a request in well under a
millisecond, and never blocks), so adding clients adds no contention; timeouts and a stop are
events of that loop. asyncio's streams and TLS are the standard library's; the HTTP/1.1
framing here is the small subset the portal needs (request line, headers, Content-Length or
chunked bodies, keep-alive, `Expect: 100-continue`).

- TLS (optional): asyncio's, with the handshake under the connection timeout.
- Connection timeout: an idle keep-alive connection, or one that stops sending in the middle
  of a request, is closed after `connection_timeout` seconds.
- Bodies over 64 MiB are refused before they are read, with a Content-Length or chunked (a
  negative or malformed chunk size is a bad request), as the portal's nginx front refuses
  them: 413 "Request Entity Too Large" (400 "Bad Request" for malformed framing), HTML.
- Nagle's algorithm is off on every connection, and each response is one write.
- Nothing is logged per request (URLs carry webhook codes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable
from urllib.parse import unquote, urlsplit

from ._portal import JSON_TYPE, Portal, Reply, encode
from ._request import HttpRequest

__all__ = ["MAX_BODY", "PortalServer"]

logger = logging.getLogger("b24shim.emulator")

MAX_BODY = 64 * 1024 * 1024
_MAX_HEAD = 64 * 1024
_INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
_HTML = "text/html; charset=utf-8"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _nginx_page(status: int) -> Reply:
    title = f"{status} {_REASONS[status]}"
    body = (
        f"<html><head><title>{title}</title></head><body>"
        f"<center><h1>{title}</h1></center><hr><center>nginx</center></body></html>"
    )
    return Reply(status, body.encode(), _HTML)


_TOO_LARGE = _nginx_page(413)
_MALFORMED = _nginx_page(400)


class _Refused(Exception):
    """The request cannot be read: answer `reply` and close the connection."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _Head:
    """A parsed request line and headers."""

    def __init__(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _Refused(_MALFORMED)
        self.method, self.target, self.version = parts
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise _Refused(_MALFORMED)
            key = name.strip().lower()
            value = value.strip()
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value

    @property
    def keep_alive(self) -> bool:
        tokens = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class PortalServer:
    """Serves a `Portal` on a loopback address from an event loop in a background thread.

    Args:
        address: (host, port); port 0 picks a free one.
        portal: What answers the requests.
        ssl_context: Serve HTTPS with this context.
        connection_timeout: Seconds a connection may stay idle or stalled.
    """

    # The listen backlog: a client opening dozens of connections at once (fast_bitrix24 opens
    # 50) must not see SYN retransmits, which a real portal behind nginx does not cause.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        portal: Portal,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connection_timeout: float = 30.0,
    ) -> None:
        self.portal = portal
        self.ssl_context = ssl_context
        self.connection_timeout = connection_timeout
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._socket = socket.create_server(address, backlog=self.request_queue_size)
        self.server_address: tuple[str, int] = self._socket.getsockname()[:2]
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a background thread; returns once the loop accepts connections."""
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._connection,
                    sock=self._socket,
                    ssl=self.ssl_context,
                    ssl_handshake_timeout=self.connection_timeout if self.ssl_context else None,
                    limit=_MAX_HEAD,
                )
            )
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(
            target=run, name=f"b24shim-emulator-{self.server_address[1]}", daemon=True
        )
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        """Stop accepting, drop every open connection, stop the loop and its thread."""
        if self._thread is None:
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            done.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None
        self._loop.close()
        self._socket.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Aborted transports end their readers with EOF, so the connection tasks finish by
        # themselves; only a task still running after that is cancelled.
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        _, pending = await asyncio.wait(tasks, timeout=1) if tasks else (set(), set())
        for task in pending:
            task.cancel()

    # -- one connection -----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        raw = writer.get_extra_info("socket")
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except (TimeoutError, asyncio.TimeoutError):
            logger.debug("emulator closed a connection idle for %s s", self.connection_timeout)
        except ssl.SSLError:
            logger.debug("emulator TLS error", exc_info=True)
        except asyncio.CancelledError:
            # Only at stop. Ending normally matters: asyncio's stream callback reads the task's
            # exception, and a cancelled task would print a traceback there (Python 3.11).
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read(self, awaitable: Awaitable[bytes]) -> bytes:
        return await asyncio.wait_for(awaitable, self.connection_timeout)

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; return whether to keep the connection for another."""
        raw_head = await self._read(reader.readuntil(b"\r\n\r\n"))
        try:
            head = _Head(raw_head[:-4])
            body = await self._body(head, reader, writer)
        except _Refused as refused:
            await self._send(writer, refused.reply, close=True)
            return False
        split = urlsplit(head.target)
        request = HttpRequest(
            head.method,
            unquote(split.path),
            split.query,
            head.headers,
            body,
            self.ssl_context is not None,
        )
        try:
            reply = self.portal.handle(request)
        except Exception:
            logger.exception("emulator failed to answer a %s request", head.method)
            reply = Reply(500, encode(_INTERNAL))
        if reply.reset:
            self._reset(writer)
            return False
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        keep = head.keep_alive
        await self._send(writer, reply, close=not keep)
        return keep

    async def _body(
        self, head: _Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        chunked = "chunked" in head.headers.get("transfer-encoding", "").lower()
        length = 0
        if not chunked:
            try:
                length = int(head.headers.get("content-length") or 0)
            except ValueError:
                raise _Refused(_MALFORMED) from None
            if length < 0:
                raise _Refused(_MALFORMED)
            if length > MAX_BODY:
                raise _Refused(_TOO_LARGE)
        if head.headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if chunked:
            return await self._chunked(reader)
        return await self._read(reader.readexactly(length)) if length else b""

    async def _chunked(self, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await self._read(reader.readline())
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Refused(_MALFORMED) from None
            if size < 0:
                raise _Refused(_MALFORMED)  # "-1" would otherwise read to the end
            if size == 0:
                while (await self._read(reader.readline())) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise _Refused(_TOO_LARGE)
            parts.append(await self._read(reader.readexactly(size)))
            await self._read(reader.readline())

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply, *, close: bool) -> None:
        reason = _REASONS.get(reply.status, "Unknown")
        head = (
            f"HTTP/1.1 {reply.status} {reason}\r\n"
            f"Content-Type: {reply.content_type or JSON_TYPE}\r\n"
            f"Content-Length: {len(reply.body)}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
        )
        writer.write(head.encode("latin-1") + reply.body)
        await writer.drain()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        """Drop the connection with a TCP RST and no response (SO_LINGER with timeout 0)."""
        raw = writer.get_extra_info("socket")
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

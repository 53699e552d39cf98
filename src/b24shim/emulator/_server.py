"""The HTTP side: a stdlib `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive, or HTTPS.

- Nagle's algorithm is disabled on every connection (with it on, the headers-then-body writes
  of `http.server` cost a delayed-ACK stall of about 40 ms per request).
- TLS (optional): the handshake runs in the connection's own thread, under the connection
  timeout, so a client that never finishes it holds no one else up.
- Connection timeout: an idle keep-alive connection, or one that stops sending in the middle
  of a request, is closed after `connection_timeout` seconds (each read waits at most that).
- Bodies over 64 MiB are refused before they are read, with a Content-Length or chunked (a
  negative or malformed chunk size is a bad request), as the portal's nginx front refuses
  them: 413 "Request Entity Too Large" (400 "Bad Request" for malformed framing), HTML.
- `serve_forever` waits on the listening socket and a wake-up socket, not on a poll
  interval, so `shutdown` returns at once (stdlib socketserver waits up to `poll_interval`).
- Request logging to stderr is silenced; URLs carry webhook codes, so nothing here logs them.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from ._portal import JSON_TYPE, Portal, Reply, encode
from ._request import HttpRequest

__all__ = ["PortalServer"]

logger = logging.getLogger("b24shim.emulator")

MAX_BODY = 64 * 1024 * 1024
_INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
_HTML = "text/html; charset=utf-8"


def _nginx_page(status: int, reason: str) -> Reply:
    title = f"{status} {reason}"
    body = (
        f"<html><head><title>{title}</title></head><body>"
        f"<center><h1>{title}</h1></center><hr><center>nginx</center></body></html>"
    )
    return Reply(status, body.encode(), _HTML)


_TOO_LARGE = _nginx_page(413, "Request Entity Too Large")
_MALFORMED = _nginx_page(400, "Bad Request")


class _Refused(Exception):
    """The request cannot be read: answer `reply` and close the connection."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: PortalServer

    def setup(self) -> None:
        # Every read (and the TLS handshake) waits at most the connection timeout.
        self.request.settimeout(self.server.connection_timeout)
        context = self.server.ssl_context
        if context is not None:
            raw = self.request
            # The handshake runs here, in this connection's thread, under the timeout.
            self.request = context.wrap_socket(raw, server_side=True)
            self.server.track(raw, self.request)
        super().setup()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr log (its lines would carry webhook codes)."""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(65537)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Refused(_MALFORMED) from None
            if size < 0:
                raise _Refused(_MALFORMED)  # "-1" would read to the end of the stream
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise _Refused(_TOO_LARGE)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _Refused(_MALFORMED) from None
        if length < 0:
            raise _Refused(_MALFORMED)
        if length > MAX_BODY:
            raise _Refused(_TOO_LARGE)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _Refused as refused:
            self.close_connection = True
            self._send(refused.reply)
            return
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        https = self.server.ssl_context is not None
        request = HttpRequest(self.command, unquote(split.path), split.query, headers, body, https)
        try:
            reply = self.server.portal.handle(request)
        except Exception:
            logger.exception("emulator failed to answer a %s request", self.command)
            reply = Reply(500, encode(_INTERNAL))
        if reply.reset:
            self._reset()
            return
        if reply.delay > 0:
            time.sleep(reply.delay)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type or JSON_TYPE)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST and no response (SO_LINGER with timeout 0)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket really closes only once the buffered reader lets go of it too.
        self.rfile.close()
        self.connection.close()


class PortalServer(ThreadingHTTPServer):
    """Serves a `Portal` on a loopback address; `close_connections` ends idle keep-alives."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: a client opening dozens of connections at once
    # (fast_bitrix24 opens 50) would see SYN retransmits of about 1 s, which a real portal
    # behind nginx does not cause.
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
        self._connections: dict[int, socket.socket] = {}
        self._connections_lock = threading.Lock()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stop_requested = False
        self._stopped = threading.Event()
        self._stopped.set()
        super().__init__(address, _Handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `shutdown`; woken by a socket, not a poll interval (ignored)."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stop_requested:
                    for key, _ in selector.select():
                        if key.fileobj is self._wake_reader:
                            return
                        # stdlib's accept-and-dispatch step (private, so not in typeshed)
                        self._handle_request_noblock()  # type: ignore[attr-defined]
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` and wait for it to return (at once: it is woken)."""
        self._stop_requested = True
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def track(self, raw: socket.socket, wrapped: socket.socket) -> None:
        """Record the TLS socket that now stands for an accepted connection."""
        with self._connections_lock:
            if id(raw) in self._connections:
                self._connections[id(raw)] = wrapped

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections[id(request)] = request
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            current = self._connections.pop(id(request), request)
        super().shutdown_request(current)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection quietly instead of printing a traceback to stderr."""
        logger.debug("emulator connection error", exc_info=True)

    def close_connections(self) -> None:
        """Shut down every open client connection, so handler threads end promptly."""
        with self._connections_lock:
            connections = list(self._connections.values())
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

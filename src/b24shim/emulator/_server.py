"""The HTTP side: a stdlib `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive.

Nagle's algorithm is disabled on every connection (see performance notes: with it on, the
headers-then-body writes of `http.server` cost a delayed-ACK stall of about 40 ms per request).
Request logging to stderr is silenced; URLs carry webhook codes, so nothing here logs them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
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

_MAX_BODY = 64 * 1024 * 1024
_INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: PortalServer

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
                raise _BadRequest from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise _BadRequest
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest from None
        if length < 0 or length > _MAX_BODY:
            raise _BadRequest
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest:
            self.close_connection = True
            self._send(Reply(400, encode({"error": "", "error_description": "Bad request"})))
            return
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = HttpRequest(self.command, unquote(split.path), split.query, headers, body)
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

    def __init__(self, address: tuple[str, int], portal: Portal) -> None:
        self.portal = portal
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection quietly instead of printing a traceback to stderr."""
        logger.debug("emulator connection error", exc_info=True)

    def close_connections(self) -> None:
        """Shut down every open client connection, so handler threads end promptly."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

"""HTTPS for the emulator: a throw-away CA and a server certificate, made with trustme.

trustme (the `tls` extra) is the usual library for test certificates (urllib3, httpx and trio
test with it); writing X.509 by hand would buy nothing. The CA is made once per `Emulator`, so
a restarted emulator keeps the CA its clients were given; its PEM file is written at each start
into a private temporary folder and removed at stop.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["TlsMaterial"]

_NAMES = ("127.0.0.1", "localhost", "::1")


class TlsMaterial:
    """The CA and the certificate of one emulator.

    Args:
        host: The host the emulator binds; the certificate names it with localhost,
            127.0.0.1 and ::1.

    Raises:
        RuntimeError: When trustme is not installed.
    """

    def __init__(self, host: str) -> None:
        try:
            import trustme  # noqa: PLC0415 (an optional extra)
        except ImportError:
            raise RuntimeError(
                "Emulator(tls=True) needs trustme: install the extra, pip install 'b24shim[tls]'"
            ) from None
        names = list(dict.fromkeys((host, *_NAMES)))
        self._ca: Any = trustme.CA(organization_name="b24shim emulator")
        self._cert: Any = self._ca.issue_cert(*names)
        self._folder: str | None = None
        self.ca_path: str | None = None

    def start(self) -> ssl.SSLContext:
        """Write the CA file and return the server's TLS context."""
        self._folder = tempfile.mkdtemp(prefix="b24shim-emulator-")
        path = Path(self._folder) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(path))
        self.ca_path = str(path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def stop(self) -> None:
        """Remove the CA file."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = self.ca_path = None

"""Drop-ins for code that cannot change: requests, aiohttp, httpx, urllib: ``crm.lead.delete``.

Legacy integrations build the REST call themselves (``requests.post(webhook +
"crm.lead.delete", ...)``, ``batch`` strings such as ``"crm.lead.delete?id=5"``) or go through
a client library. A drop-in sits in the HTTP library, intercepts the ``crm.lead.delete`` calls to
the shim's portal, routes them through the stage of the current environment, and answers with
exactly what ``crm.lead.delete`` would have answered. Every other request goes through
untouched, byte for byte.

- :class:`ShimAdapter`: a ``requests`` transport adapter (``_requests.py``);
- :class:`ShimMiddleware`: an aiohttp client middleware, for fast_bitrix24 and bitrix24-rest
  (``_aiohttp.py``);
- :class:`ShimTransport` / :class:`AsyncShimTransport`: httpx transports (``_httpx.py``);
- :class:`ShimHandler`: a ``urllib.request`` handler, for pybitrix24 and ``urlopen``
  (``_urllib.py``);
- :func:`install`: every new session of each of these libraries that is importable, and the
  opener of ``urllib.request.urlopen`` (``_install.py``).

They share what does not depend on the library: which calls they answer and how a call reads
(``_calls.py``), the flows that say what to send and how to answer, driven by the facade's
engine (``_flows.py``), and the rewrite of a ``batch`` and of its answer (``_batch.py``).

What counts as such a call:

- the URL is the shim's portal in the shim's own form: ``<portal>/rest/<user>/<code>/<method>``
  for a webhook (same user and code), ``<portal>/rest/<method>`` with an ``auth`` /
  ``access_token`` parameter or a ``Bearer`` header for OAuth;
- the method is ``crm.lead.delete`` in any capitalisation, with or without ``.json``, or
  ``batch`` holding ``crm.lead.delete?...`` commands;
- parameters come from the query string united with the body (form, JSON, or raw
  ``parse_str``), body winning; ``ID`` wins over ``id``.

An id the item stages refuse (``"12abc"``, ``1.9``, ``true``, arrays: values PHP's ``(int)``
would cast to some other lead) is answered as the portal answers an invalid id, without a
request; the legacy stages send it unchanged.
"""

from __future__ import annotations

from b24shim.adapters._aiohttp import ShimMiddleware
from b24shim.adapters._batch import BATCH_LIMIT
from b24shim.adapters._calls import INVALID_ID_ANSWER
from b24shim.adapters._httpx import AsyncShimTransport, ShimTransport
from b24shim.adapters._install import install
from b24shim.adapters._install import reset as _reset_for_tests  # noqa: F401 - tests only
from b24shim.adapters._requests import ShimAdapter
from b24shim.adapters._urllib import ShimHandler

__all__ = [
    "BATCH_LIMIT",
    "INVALID_ID_ANSWER",
    "AsyncShimTransport",
    "ShimAdapter",
    "ShimHandler",
    "ShimMiddleware",
    "ShimTransport",
    "install",
]

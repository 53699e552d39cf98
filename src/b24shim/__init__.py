"""b24shim: move Bitrix24 integrations from crm.lead.delete to crm.item.delete.

``delete_lead(id)`` routes each delete to the legacy method or to ``crm.item.delete`` by a
per-environment stage, answers with one :class:`DeleteResult` whatever the route, and logs
every behavioural difference between the two, so the switch can be proven safe before it is
made. See README.md and MIGRATION.md.
"""

import logging

from b24shim.async_shim import AsyncLeadShim
from b24shim.codes import ErrorCode
from b24shim.credentials import OAuth, Webhook
from b24shim.errors import (
    AccessDenied,
    ApiError,
    AuthError,
    B24ShimError,
    B24ShimWarning,
    ConfigError,
    InvalidLeadId,
    LeadNotFound,
    LegacyRouteWarning,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)
from b24shim.flags import Stage
from b24shim.result import CallTime, DeleteResult, Difference, ErrorInfo, Outcome, Route
from b24shim.shim import LeadShim, delete_lead

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "ApiError",
    "AsyncLeadShim",
    "AuthError",
    "B24ShimError",
    "B24ShimWarning",
    "CallTime",
    "ConfigError",
    "DeleteResult",
    "Difference",
    "ErrorCode",
    "ErrorInfo",
    "InvalidLeadId",
    "LeadNotFound",
    "LeadShim",
    "LegacyRouteWarning",
    "OAuth",
    "Outcome",
    "ProtocolError",
    "RateLimited",
    "Route",
    "ServerError",
    "Stage",
    "TransportError",
    "Webhook",
    "delete_lead",
]

# Public classes report the package as their module, so reprs and tracebacks read
# `b24shim.DeleteResult`; pickling still works because each is importable from here.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj

logging.getLogger(__name__).addHandler(logging.NullHandler())

"""A local Bitrix24 portal over real HTTP, for tests and demos (what stripe-mock is to Stripe).

It answers as the portal does (MIGRATION.md section 2 lists the differences it reproduces):
`crm.lead.*`, `crm.item.*`, `crm.activity.add/list`
and `batch`, webhook and OAuth auth, the leaky bucket, the operating-time limit, a restricted
user, an old-portal switch without `crm.item.*`, and fault injection. Standard library HTTP only;
of b24shim it imports only the shared PHP semantics (`b24shim._php`).
"""

from ._clock import Clock, ManualClock, SystemClock
from ._emulator import Emulator
from ._faults import FAULT_KINDS, FaultConfig
from ._journal import RequestRecord
from ._store import RecycleBinEntry

__all__ = [
    "FAULT_KINDS",
    "Clock",
    "Emulator",
    "FaultConfig",
    "ManualClock",
    "RecycleBinEntry",
    "RequestRecord",
    "SystemClock",
]

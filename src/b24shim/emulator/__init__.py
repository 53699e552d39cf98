"""A local Bitrix24 portal over real HTTP or HTTPS, for tests and demos (as stripe-mock, moto).

It answers as the portal does: `crm.{lead,deal,contact,company}.*` and `crm.item.*` over one
store, `crm.activity.add/list` and `batch`, webhook and OAuth auth, the leaky bucket, the
operating-time limit, a restricted user, an old-portal switch without `crm.item.*`, and fault
injection (see docs/emulator.md; MIGRATION.md section 2 lists the differences it reproduces).
Standard library HTTP (asyncio); HTTPS certificates from trustme (extra `tls`); of b24shim it
imports only the shared PHP semantics (`b24shim._php`).
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

"""A legacy script that builds its own ``crm.lead.delete`` call, migrated by the adapter alone.

``delete_lead_the_old_way`` below is the legacy code, unchanged: it posts to
``<webhook>crm.lead.delete.json`` with ``requests`` and checks for ``"result": true``. The only
b24shim line is ``install()`` in ``main()``: from then on every ``requests`` call of the process
goes through :class:`b24shim.adapters.ShimAdapter`, which sends each delete through the stage
of the environment (``B24SHIM_LEAD_DELETE_STAGE``: legacy, legacy_verified, item_verified,
item) and answers exactly what ``crm.lead.delete`` would have answered.

Run it:

    # against a real portal: the webhook of the legacy code, the stage, and lead ids
    B24SHIM_WEBHOOK_URL=https://example.bitrix24.com/rest/1/<code>/ \\
    B24SHIM_LEAD_DELETE_STAGE=item_verified python examples/legacy_script_with_adapter.py 12 13

    # against a local emulator started in-process (no B24SHIM_WEBHOOK_URL): three demo leads
    python examples/legacy_script_with_adapter.py
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import requests

from b24shim.adapters import install


def delete_lead_the_old_way(webhook: str, lead_id: int) -> tuple[int, dict[str, Any]]:
    """The legacy code, exactly as it was: it knows nothing of b24shim."""
    response = requests.post(webhook + "crm.lead.delete.json", json={"id": lead_id}, timeout=30)
    body = response.json()
    if response.status_code != 200 or body.get("result") is not True:
        print(f"  lead {lead_id}: not deleted: {body.get('error_description')}", file=sys.stderr)
    return response.status_code, body


def _delete_methods(portal: Any) -> list[str]:
    """The delete methods the emulator ran, batch commands included."""
    seen = set()
    for record in portal.requests:
        commands = record.params.get("cmd", {}) if record.method == "batch" else {}
        calls = commands.values() if isinstance(commands, dict) else commands
        for name in [record.method, *(str(c).partition("?")[0] for c in calls)]:
            if name.endswith(".delete"):
                seen.add(name)
    return sorted(seen)


def main(argv: list[str]) -> int:
    """Delete the leads named on the command line (or demo leads on a local emulator)."""
    with contextlib.ExitStack() as stack:
        webhook = os.environ.get("B24SHIM_WEBHOOK_URL", "").strip()
        portal = None
        if webhook:
            lead_ids = [int(arg) for arg in argv]
        else:
            from b24shim.emulator import Emulator  # noqa: PLC0415 - only for the demo

            portal = stack.enter_context(Emulator(rate=0))
            webhook = portal.admin_webhook
            # The shim reads its configuration from the environment, as in production.
            os.environ["B24SHIM_WEBHOOK_URL"] = webhook
            os.environ.setdefault("B24SHIM_LEAD_DELETE_STAGE", "item")
            lead_ids = [portal.add_lead({"TITLE": f"demo lead {n}"}) for n in range(3)]
            print(f"local emulator at {portal.base_url}, demo leads {lead_ids}")

        stack.callback(install())  # <- the one line of set-up; undone when main() returns

        print(f"stage: {os.environ.get('B24SHIM_LEAD_DELETE_STAGE', 'legacy')}")
        failed = 0
        for lead_id in lead_ids:
            status, body = delete_lead_the_old_way(webhook, lead_id)
            print(f"lead {lead_id}: crm.lead.delete answered {status} {body}")
            failed += status != 200
        if portal is not None:
            print(f"the portal saw: deleted through {', '.join(_delete_methods(portal))}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

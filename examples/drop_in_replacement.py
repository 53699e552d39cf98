"""A legacy-style clean-up script, migrated by replacing one call.

Before, it built the REST call itself::

    answer = requests.post(WEBHOOK + "crm.lead.delete.json", json={"id": lead_id}).json()
    if answer.get("result") is True: ...

After, it calls b24shim, which routes by B24SHIM_LEAD_DELETE_STAGE and still hands the old
code the answer shape it expects (``to_legacy()``). Run it as it is: without
B24SHIM_WEBHOOK_URL it starts the built-in emulator and cleans up leads there.
"""

from __future__ import annotations

import os
import sys
import warnings

import b24shim
from b24shim.emulator import Emulator


def delete_stale_leads(lead_ids: list[int]) -> tuple[int, int]:
    """The integration's own logic, unchanged but for the one call."""
    deleted = failed = 0
    for lead_id in lead_ids:
        status, answer = b24shim.delete_lead(lead_id).to_legacy()  # was: requests.post(...)
        if status == 200 and answer.get("result") is True:
            deleted += 1
        else:
            failed += 1
            print(f"lead {lead_id}: {answer.get('error_description')}", file=sys.stderr)
    return deleted, failed


def main() -> int:
    warnings.simplefilter("default", b24shim.LegacyRouteWarning)
    if os.environ.get("B24SHIM_WEBHOOK_URL"):
        deleted, failed = delete_stale_leads([int(x) for x in sys.argv[1:]])
        print(f"deleted {deleted}, failed {failed}")
        return 0 if failed == 0 else 1
    with Emulator(rate=0) as portal:
        os.environ["B24SHIM_WEBHOOK_URL"] = portal.admin_webhook
        os.environ.setdefault("B24SHIM_LEAD_DELETE_STAGE", "item_verified")
        leads = [portal.add_lead({"TITLE": f"stale {n}"}) for n in range(5)]
        # 999999 does not exist: the old code sees this portal's legacy not-found answer.
        deleted, failed = delete_stale_leads([*leads, 999_999])
    print(f"deleted {deleted}, failed {failed} (the missing lead, as expected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

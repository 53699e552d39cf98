"""Per-environment rollout in code: one table, read once at start-up.

Run it against the emulator to see which route each lead would take:

    python examples/rollout.py staging      # development, staging or production (default)
"""

from __future__ import annotations

import os
import sys

from b24shim import LeadShim, Stage
from b24shim.emulator import Emulator

# The stage and share per environment. Moving on is a one-line change, reviewed like code;
# the kill switch is an environment variable so that operations can flip it without a deploy.
ROLLOUT = {
    "development": {"stage": Stage.ITEM, "item_percent": 100},
    "staging": {"stage": Stage.ITEM_VERIFIED, "item_percent": 100},
    "production": {"stage": Stage.ITEM_VERIFIED, "item_percent": 10},
}


def build_shim(environment: str, webhook: str) -> LeadShim:
    """The shim for ``environment``; B24SHIM_KILL_SWITCH still wins."""
    settings = ROLLOUT[environment]
    kill = os.environ.get("B24SHIM_KILL_SWITCH", "").strip().lower() in ("1", "true", "yes", "on")
    return LeadShim(
        webhook,
        stage=settings["stage"],
        item_percent=int(settings["item_percent"]),
        kill_switch=kill,
    )


def main(argv: list[str]) -> int:
    environment = argv[1] if len(argv) > 1 else "production"
    if len(argv) > 2 or environment not in ROLLOUT:
        print(f"usage: rollout.py [{'|'.join(ROLLOUT)}]", file=sys.stderr)
        print(f"rollout.py: error: no environment named {environment!r}", file=sys.stderr)
        return 2
    with Emulator(rate=0) as portal:
        shim = build_shim(environment, portal.admin_webhook)
        for _ in range(10):
            lead = portal.add_lead()
            result = shim.delete_lead(lead)
            print(
                f"{environment}: lead {lead} -> stage {result.stage.value}, {result.method}, "
                f"{result.outcome.value}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

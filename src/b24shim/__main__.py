"""``python -m b24shim``: the same as the ``b24shim`` command."""

import sys

from b24shim.cli import main

sys.exit(main())

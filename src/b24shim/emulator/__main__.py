"""`python -m b24shim.emulator`: run the portal emulator from the command line."""

from ._cli import main

raise SystemExit(main())

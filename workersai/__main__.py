"""``python -m workersai``: the same as the ``workersai`` command."""

from workersai.cli import main

raise SystemExit(main())

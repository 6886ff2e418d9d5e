"""``python -m durable_local start ...``: the same as the ``durable-local`` command."""

from durable_local.cli import main

raise SystemExit(main())

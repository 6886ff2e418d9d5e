"""``python -m durable_local.worker``: the worker process (started by ``ProcessWorker``)."""

import sys

from durable_local.worker.child import main

sys.exit(main())

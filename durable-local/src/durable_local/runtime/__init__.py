"""The runtime: the client API (``client.DurableRuntime``), the dispatcher that pumps work, the
batching policy, the activity pipeline, the history cache, the clock and the built-in HTTP
activity. The HTTP layer sees it only through ``api.RuntimeAPI``."""

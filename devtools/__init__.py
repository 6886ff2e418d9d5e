"""Local development tools shared by the demo and the tests (never
deployed; the app never imports them): a private Azurite (``azurite``), a client of the Durable
HTTP API (``durable_client``), a ``durable-local start`` process (``host_process``), the
consumers' side of the app's hand-over (``consumers``: queue messages, downloads, acks), and
which host a run targets (``target``)."""

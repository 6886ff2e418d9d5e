"""Local development tools shared by the demo, the tests and the benchmarks (never deployed;
the app never imports them): a private Azurite (``azurite``), a client of the Durable HTTP API
(``durable_client``), a ``durable-local start`` process (``host_process``), the consumers' side
of the app's hand-over (``consumers``: queue messages, downloads, acks), which host a run
targets (``target``), and Debian's Chromium for Playwright (``browser``)."""

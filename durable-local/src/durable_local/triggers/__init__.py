"""Non-HTTP triggers the host runs on its own: timers (``timers``)."""

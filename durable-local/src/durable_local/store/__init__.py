"""Persistence: the ``Store`` protocol and its records (``base``), and SQLite (``sqlite``)."""

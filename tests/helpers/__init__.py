"""Helpers shared by the tests: app loading, host and runtime harnesses, engine builders, the
app's history builder and the golden-history recorder. Fixtures stay in conftest.py files."""

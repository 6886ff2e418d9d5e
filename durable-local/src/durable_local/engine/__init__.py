"""The pure engine: (history, SDK orchestrator state, now) -> what one episode commits.

No asyncio, sqlite3, aiohttp or user code here (an import-linter contract enforces it), so the
correctness of replay is tested with plain lists of events.
"""

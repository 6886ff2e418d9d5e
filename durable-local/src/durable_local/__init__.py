"""durable-local: a local stand-in for the Azure Functions host and the Durable Task extension.

It loads a v2-model ``function_app.py``, drives the real ``azure-functions-durable`` SDK the way
the host does (spec: ``shared/spec/durable-protocol.md``) and persists orchestration state in
SQLite, so a Durable Functions app runs and is tested with Python alone.
"""

__version__ = "0.1.0"

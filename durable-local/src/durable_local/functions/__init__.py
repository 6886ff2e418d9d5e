"""Loading a function app as the Functions host does: settings (local.settings.json, host.json),
the registry of its functions by trigger, and the import of function_app.py."""

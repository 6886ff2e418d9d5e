"""Composition root of the function app: one DFApp, logging, and the blueprints."""

import azure.durable_functions as df
from azure_functions_logging import setup_logging

from workflows import activities, orchestrators, starters

# Under the Functions host this only adds context fields to the host's own log handlers (the
# host and host.json own levels and output); run standalone it logs the app's records to stderr.
setup_logging(logger_name="workflows")

app = df.DFApp(http_auth_level=starters.AUTH_LEVEL)
app.register_functions(starters.bp)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)

"""Composition root of the function app: one DFApp, logging, and the blueprints."""

import azure.durable_functions as df
from azure_functions_logging import setup_logging

from workflows import acks, activities, operations, orchestrators, starters
from workflows.logs import quiet_sdk_logs

# Under the Functions host this only adds context fields to the host's own log handlers (the
# host and host.json own levels and output); run standalone it logs the app's records to stderr.
setup_logging(logger_name="workflows")
# azure-core's HTTP logging policy at WARNING (AZURE_SDK_HTTP_LOG_LEVEL), SDK advisories off.
quiet_sdk_logs()

app = df.DFApp(http_auth_level=starters.AUTH_LEVEL)
app.register_functions(starters.bp)
app.register_functions(operations.bp)
app.register_functions(acks.bp)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)

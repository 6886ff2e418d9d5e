"""The device-sync function app package.

Blueprints (registered by ``function_app.py``):

* ``workflows.starters``: HTTP starters.
* ``workflows.orchestrators``: the parent workflow and its three sub-orchestrators.
* ``workflows.activities``: package building, consumer notification, outcome recording.

Pure domain modules, importable without the Functions host: ``contracts`` (names, payload
types), ``settings`` (app settings), ``validation`` (request and input checks), ``ack`` (ack
evaluation), ``packages`` (package content), ``package_store`` (the blob-storage interface) and
``consumers`` (the consumer-notification interface). ``blob_store`` is the Azure Blob Storage
implementation of ``package_store`` (``azure-storage-blob``, SAS URLs).
"""

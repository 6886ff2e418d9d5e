"""The device-sync function app package.

Blueprints (registered by ``function_app.py``):

* ``workflows.starters``: HTTP starters.
* ``workflows.operations``: the cancel route (``POST /api/runs/{id}/cancel``).
* ``workflows.acks``: the ack route consumers POST to (``POST /api/acks/{token}``).
* ``workflows.orchestrators``: the parent workflow and its three sub-orchestrators, which
  delegate their package handshake to ``workflows.handshake``.
* ``workflows.activities``: package building, consumer notification, outcome recording.

Pure domain modules, importable without the Functions host: ``contracts`` (names, payload
types), ``settings`` (app settings), ``validation`` (request and input checks), ``ack`` (ack
evaluation and ack bodies), ``ack_links`` (signed ack tokens), ``packages`` (package content),
``package_store`` (the blob-storage interface), ``consumers`` (the consumer-notification
interface and message), ``logs`` (URL redaction, SDK log levels) and ``http_json`` (JSON
answers). ``blob_store`` is the Azure Blob Storage implementation of ``package_store``
(``azure-storage-blob``, SAS URLs); ``queue_notifier`` the Azure Queue Storage notifier.
"""

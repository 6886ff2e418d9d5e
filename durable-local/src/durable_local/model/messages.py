"""The Durable extension's own message texts, where a user sees them (one home for each).

Wording from the extension's source (EXT: Microsoft.Azure.WebJobs.Extensions.DurableTask) and
DTFx, so that what an app logs or asserts locally reads as it does in Azure.
"""

from __future__ import annotations


def function_missing(name: str, kind: str, additional_info: str | None = None) -> str:
    """A call to a function that is not registered as ``kind`` ("activity", "orchestrator").

    EXT ``DurableTaskExtension.ThrowIfFunctionDoesNotExist``.
    """
    text = f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function."
    return f"{text} Additional info: {additional_info}" if additional_info else text


def instance_already_exists(status: str) -> str:
    """Starting an id whose instance is not terminal (DTFx ``OrchestrationAlreadyExistsException``,
    spec §7.2)."""
    return f"An Orchestration instance with the status {status} already exists."

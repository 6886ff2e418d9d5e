"""Instance-id rules of the extension (spec §7.1): what makes an id invalid, and why."""

from __future__ import annotations


def sub_orchestration_id_problem(
    child_id: str, parent_id: str, grandparent_id: str | None
) -> str | None:
    """Why a sub-orchestration id is refused (EXT CallDurableTaskFunctionAsync), or None."""
    if child_id == parent_id or (grandparent_id is not None and child_id == grandparent_id):
        return (
            f"The instance ID '{child_id}' of a sub-orchestration must be different from the "
            "instance IDs of its parent and grandparent orchestrations."
        )
    return instance_id_problem(child_id)


def instance_id_problem(instance_id: str) -> str | None:
    """Why an instance id is invalid (EXT DurableClient.StartNewAsync, spec §7.1), or None."""
    if not instance_id:
        return "Orchestration instance ids must not be empty."
    if len(instance_id) > 256:
        return "Orchestration instance ids must not exceed 256 characters."
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if instance_id.strip(".") == "":
        # Its status URL would be normalised to another resource (".." the instance list).
        return "Orchestration instance ids must not be made of dots only ('.', '..')."
    for char in instance_id:
        if char in "/\\?#":
            return "Orchestration instance ids must not contain /, \\, #, or ? characters."
        if _is_control(char):
            return "Orchestration instance ids must not contain control characters."
        if 0xD800 <= ord(char) <= 0xDFFF:
            # Not Unicode text: undecodable URL bytes or a JSON lone surrogate (no round-trip).
            return "Orchestration instance ids must be valid Unicode (no lone surrogates)."
    return None


def _is_control(char: str) -> bool:
    # .NET char.IsControl: U+0000-U+001F and U+007F-U+009F.
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F

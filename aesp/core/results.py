"""Checks on a Runtime's result before the Host forwards it (SPEC §3.19 step 12, items 43, 96).

A Runtime is never trusted: its result must be valid ADM (status, content/error discriminator,
JSON content), must answer the call that was dispatched (call_id and name), and must fit the
contract's ``return_type`` when the contract declares one.
"""

from __future__ import annotations

from aesp.adm import AdmError, parse_json
from aesp.core.contracts import ToolContract
from aesp.core.messages import RuntimeResult

MAX_ERROR_MESSAGE = 2000  # longer runtime error messages are refused rather than forwarded


def check_result(result: RuntimeResult, call_id: str, contract: ToolContract) -> str | None:
    """Return why ``result`` must not be forwarded, or None when it is acceptable."""
    if result.call_id != call_id:
        return "call_id does not match the dispatched call"
    if result.name != contract.name:
        return "name does not match the dispatched call"
    if result.status == "SUCCESS":
        if result.content_json is None:
            return "a SUCCESS result has no content"
        if result.error_message or result.error_type:
            return "a SUCCESS result carries an error"
        try:
            content = parse_json(result.content_json)
        except AdmError as exc:
            return f"content is not valid JSON ({exc.reason})"
        if contract.check_result is not None:
            try:
                contract.check_result(content)
            except AdmError as exc:
                return f"content does not match the contract's return_type ({exc})"
        return None
    if result.status == "ERROR":
        if result.content_json is not None:
            return "an ERROR result carries content"
        if not result.error_message.strip():
            return "an ERROR result has no error message"
        if len(result.error_message) > MAX_ERROR_MESSAGE:
            return "the error message is too long"
        return None
    return f"status {result.status!r} is neither SUCCESS nor ERROR"

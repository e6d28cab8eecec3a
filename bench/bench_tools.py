"""The tool the call-latency benchmark's Runtime serves, and the Host contract for it.

The Runtime process runs the real SDK on this module::

    python -m aesp runtime bench/bench_tools.py --target HOST:PORT --pki DIR --name bench

``echo`` does no work, so a call's latency is the cost of the path around it: client, middle
process (governed Host or pass-through), Runtime SDK, and the three mTLS hops.
"""

from __future__ import annotations

from aesp.later import tool

ECHO_CONTRACT: dict[str, object] = {
    "name": "echo",
    "contract_version": "1.0.0",
    "description": "Return the integer it is given.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"x": {"type": "INTEGER", "description": "Any integer."}},
        "required": ["x"],
    },
    "return_type": {"type": "INTEGER"},
    "security_classification": "INTERNAL",
    "risk_assessment": "LOW",
    "approval_status": "ACTIVE",
}
"""The manifest entry the governed Host checks every call (and every result) against."""


@tool
def echo(x: int) -> int:
    """Return the integer it is given.

    Args:
        x: Any integer.
    """
    return x

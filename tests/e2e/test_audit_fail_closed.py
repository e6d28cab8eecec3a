"""C-36 / item 194: if the START record cannot be made durable, the call is refused and the
runtime never sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aesp.client import AespClientError, AsyncClient
from aesp.core.audit import FileAuditLog
from aesp.later import ToolRegistry, tool
from aesp.runtime import Runtime
from aesp.testing.harness import local_host

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"text": {"type": "STRING"}},
        "required": ["text"],
    },
}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
async def test_item_194_unwritable_audit_log_refuses_calls(tmp_path: Path) -> None:
    received: list[str] = []
    registry = ToolRegistry()

    @tool(registry=registry)
    def echo(text: str) -> str:
        """Echo a text.

        Args:
            text: The text.
        """
        received.append(text)
        return text

    async with local_host(tmp_path, [ECHO], audit=FileAuditLog(Path("/dev/full"))) as handle:
        ca, cert, key = handle.runtime_pem()
        runtime = Runtime(
            target=handle.runtime_target, ca=ca, cert=cert, key=key, registry=registry
        )
        await runtime.start()
        try:
            # The Runtime cannot even connect: its connection could not be audited.
            with pytest.raises(TimeoutError):
                await runtime.wait_ready(1.5)
            assert not handle.running.host.runtimes.connections()
            ca, cert, key = handle.client_pem()
            async with AsyncClient(handle.client_target, ca=ca, cert=cert, key=key) as client:
                with pytest.raises(AespClientError) as info:
                    session = await client.create_session()
                    await client.call(session.session_id, "echo", {"text": "hi"})
                assert info.value.code == "AUDIT_REQUIREMENT_NOT_MET"
            assert received == []
            assert not handle.running.host.sessions.all()
        finally:
            await runtime.stop()

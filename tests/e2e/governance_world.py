"""A Host with the governance service, and the callers of the governance end-to-end tests.

Shared by tests/e2e/test_governance.py and tests/e2e/test_call_approval.py: stubs per client
certificate, a scripted runtime of tenant ``acme``, the audit events, and ``aesp`` governance
commands run as a separate process.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from aesp.certs import DevPki
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc, host_pb2_grpc
from aesp.server.app import RunningHost
from aesp.server.tls import channel_credentials
from tests.e2e.scripted_runtime import ScriptedRuntime

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 60  # interpreter start-up plus one RPC


@dataclass
class World:
    """The running Host, its PKI, and stubs of the callers."""

    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel]

    @property
    def target(self) -> str:
        return f"localhost:{self.running.client_port}"

    def channel(self, name: str) -> grpc.aio.Channel:
        cert, key = self.pki.client(name)
        channel = grpc.aio.secure_channel(
            self.target,
            channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
        )
        self.channels.append(channel)
        return channel

    def governance(self, name: str) -> governance_pb2_grpc.EnterpriseGovernanceServiceStub:
        return governance_pb2_grpc.EnterpriseGovernanceServiceStub(self.channel(name))

    def runtime(self) -> ScriptedRuntime:
        cert, key = self.pki.runtime("acme")
        return ScriptedRuntime(
            f"localhost:{self.running.runtime_port}",
            (self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
            runtime_id="rt-acme",
        )

    def events(self, event_type: str) -> list[Any]:
        return [e for e in self.running.host.audit.events() if e.event_type == event_type]

    async def cli(self, *args: str) -> tuple[int, str, str]:
        """``python -m aesp.cli_governance ARGS`` without blocking the Host's event loop."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aesp.cli_governance",
            *args,
            "--target",
            self.target,
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "AESP_API_KEY"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    def as_pki(self, name: str) -> list[str]:
        return ["--pki", str(self.pki.directory), "--name", name]

    def grid(self, name: str) -> host_pb2_grpc.GridClientServiceStub:
        return host_pb2_grpc.GridClientServiceStub(self.channel(name))

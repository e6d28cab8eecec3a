"""Start a real Host on loopback with a fresh development PKI: for tests, the demo and bench.

Everything is real: the gRPC servers listen with TLS 1.3 and require client certificates, the
manifest is a JSON file, the audit log a file. Only the ports are picked by the OS.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.audit import AuditLog
from aesp.core.config import HostConfig, LimitsConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.server.app import RunningHost, start_host

TEST_ACCESS = AccessConfig(
    roles=(RoleDefinition("tool-user", ("tool:*:invoke",)),),
    group_roles={"certificate:client": ("tool-user",), "certificate:runtime": ("tool-user",)},
    group_clearance={"certificate:client": "RESTRICTED", "certificate:runtime": "RESTRICTED"},
)
"""What a test Host grants: every client and runtime certificate of its PKI may call every tool.

Tests of authorisation pass their own :class:`AccessConfig`; a production Host grants nothing
it is not configured to (``[access]`` in its configuration file).
"""


@dataclass(frozen=True)
class HostHandle:
    """A running Host and what a test needs to reach it."""

    running: RunningHost
    pki: DevPki
    config: HostConfig

    @property
    def client_target(self) -> str:
        """``localhost:<port>`` of the client-facing service."""
        return f"localhost:{self.running.client_port}"

    @property
    def runtime_target(self) -> str:
        """``localhost:<port>`` of the Runtime-facing service."""
        return f"localhost:{self.running.runtime_port}"

    def client_pem(self, name: str = "demo") -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) PEMs of a client certificate."""
        cert, key = self.pki.client(name)
        return self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()

    def runtime_pem(self, name: str = "example") -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) PEMs of a runtime certificate."""
        cert, key = self.pki.runtime(name)
        return self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()

    def issue(self, kind: str, name: str, *, tenant: str) -> tuple[bytes, bytes, bytes]:
        """Issue another certificate (e.g. for another tenant) and return its PEMs."""
        cert, key = issue_into(self.pki.directory, kind, name, tenant=tenant)
        return self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()


def write_manifest(path: Path, contracts: Sequence[Mapping[str, Any]]) -> Path:
    """Write a manifest file holding ``contracts``."""
    path.write_text(
        json.dumps({"manifest_version": "1.0.0", "contracts": list(contracts)}, indent=2),
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def local_host(
    directory: Path,
    contracts: Sequence[Mapping[str, Any]],
    *,
    mode: str = "STRICT",
    compliance: str = "AESP",
    limits: LimitsConfig | None = None,
    audit: AuditLog | None = None,
    runtimes: Sequence[str] = ("example",),
    clients: Sequence[str] = ("demo",),
    pki: DevPki | None = None,
    access: AccessConfig = TEST_ACCESS,
) -> AsyncIterator[HostHandle]:
    """A Host serving ``contracts`` on free loopback ports; stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    if pki is None:
        pki = init_dev_pki(directory / "pki", runtimes=runtimes, clients=clients)
    manifest = write_manifest(directory / "manifest.json", contracts) if contracts else None
    config = HostConfig(
        mode=mode,
        compliance=compliance,
        manifest_path=manifest,
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=directory / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    if limits is not None:
        config = replace(config, limits=limits)
    running = await start_host(config, audit=audit, access=access)
    try:
        yield HostHandle(running, pki, config)
    finally:
        await running.stop(grace=0.5)

"""``aesp tenants`` end to end: the CLI as a separate process against a Host started here.

The Host (TLS 1.3, development PKI, gateway) listens with mutual TLS for certificate callers and
on a second, TLS-only listener for API keys. Every command runs as ``python -m aesp tenants ...``
in a subprocess (awaited with asyncio, so this test's event loop keeps serving the Host) with
the three ways the CLI takes credentials: ``--pki/--name``, ``--ca/--cert/--key`` and an API key
(``AESP_API_KEY`` or ``--api-key``). What the CLI prints is checked, and so is what the Host did.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig
from aesp.core.ports.tenancy import TenantStatus
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import identity_pb2 as idp
from aesp.proto.altar.aesp.v1 import identity_pb2_grpc
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest

ROOT = Path(__file__).resolve().parents[2]
ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tenant-admin", ("aesp:tenant:*", "aesp:identity:*")),
        RoleDefinition("platform-operator", ("aesp:tenant:*", PLATFORM_PERMISSION)),
    ),
    group_roles={"certificate:client": ("tenant-admin",)},
)
OPERATOR = "spiffe://aesp.local/tenant/ops/client/operator"
CLI_TIMEOUT_S = 60  # one command: interpreter start-up plus one or two RPCs


@dataclass
class Ran:
    """A finished ``aesp`` process."""

    code: int
    out: str
    err: str


@dataclass
class World:
    """The running Host and its PKI."""

    running: RunningHost
    pki: DevPki

    @property
    def target(self) -> str:
        return f"localhost:{self.running.client_port}"

    def client_files(self, name: str) -> list[str]:
        """``--ca/--cert/--key`` of client certificate ``name``."""
        cert, key = self.pki.client(name)
        return ["--ca", str(self.pki.ca), "--cert", str(cert), "--key", str(key)]

    def as_pki(self, name: str) -> list[str]:
        """``--pki/--name`` of client certificate ``name``."""
        return ["--pki", str(self.pki.directory), "--name", name]

    async def status(self, tenant_id: str) -> TenantStatus | None:
        """The tenant's status in the Host's Tenant port (None: not registered)."""
        found = await self.running.host.control.tenants.get(tenant_id)
        return found.status if found is not None else None


async def aesp(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run ``python -m aesp tenants ARGS`` without blocking the Host's event loop."""
    clean = {k: v for k, v in os.environ.items() if k != "AESP_API_KEY"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aesp",
        "tenants",
        *args,
        cwd=ROOT,
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("rt",), clients=("admin",))
    issue_into(pki.directory, "client", "globex-admin", tenant="globex")
    issue_into(pki.directory, "client", "operator", tenant="ops")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        client_tls_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    await control.roles.set_assignment(OPERATOR, tenant_id="ops", roles=("platform-operator",))
    await control.roles_changed()
    try:
        yield World(running, pki)
    finally:
        await running.stop(grace=0.2)


async def test_an_operator_lists_suspends_and_resumes_with_the_cli(world: World) -> None:
    # Both tenants appear on first verified use (decision 27): their administrators look.
    own = await aesp("show", "--target", world.target, *world.as_pki("admin"))
    assert own.code == 0, own.err
    assert own.out.splitlines()[0].split() == ["tenant:", "acme"]
    assert "status:    ACTIVE" in own.out
    globex = await aesp(
        "show", "--json", "--target", world.target, *world.client_files("globex-admin")
    )
    assert json.loads(globex.out)["tenant_id"] == "globex", globex.err
    # A readable table of every tenant, and the same as JSON.
    table = await aesp("list", "--target", world.target, *world.as_pki("operator"))
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["TENANT", "STATUS", "CREATED", "UPDATED", "METADATA"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["acme", "ACTIVE"],
        ["globex", "ACTIVE"],
        ["ops", "ACTIVE"],
    ]
    listed = await aesp("list", "--json", "--target", world.target, *world.as_pki("operator"))
    assert [t["tenant_id"] for t in json.loads(listed.out)] == ["acme", "globex", "ops"]
    # Suspend: the Host refuses acme at once, and the reason is in the audit log.
    by_files = ["--target", world.target, *world.client_files("operator")]
    suspended = await aesp("suspend", "acme", "--reason", "incident 42", "--json", *by_files)
    assert suspended.code == 0, suspended.err
    assert json.loads(suspended.out)["status"] == "SUSPENDED"
    assert await world.status("acme") is TenantStatus.SUSPENDED
    locked = await aesp("show", "--target", world.target, *world.as_pki("admin"))
    assert locked.code == 1 and locked.out == ""
    assert locked.err.startswith("aesp: TENANT_SUSPENDED: "), locked.err
    shown = await aesp("show", "acme", "--target", world.target, *world.as_pki("operator"))
    assert "status:    SUSPENDED" in shown.out, shown.out
    (event,) = [e for e in world.running.host.audit.events() if e.event_type == "TENANT_SUSPEND"]
    assert (event.tenant_id, event.principal_id) == ("acme", OPERATOR)
    assert event.metadata["justification"] == "incident 42"
    # Resume: acme is admitted again.
    operator = world.as_pki("operator")
    resumed = await aesp(
        "resume", "acme", "--reason", "contained", "--target", world.target, *operator
    )
    assert resumed.code == 0 and "status:    ACTIVE" in resumed.out, resumed.err
    assert await world.status("acme") is TenantStatus.ACTIVE
    assert (await aesp("show", "--target", world.target, *world.as_pki("admin"))).code == 0


async def test_refusals_print_the_code_and_exit_1(world: World) -> None:
    assert (await aesp("show", "--target", world.target, *world.as_pki("globex-admin"))).code == 0
    admin = ["--target", world.target, *world.as_pki("admin")]
    cases = [
        (("suspend", "globex", *admin), "TENANT_ACCESS_DENIED"),
        (("list", *admin), "TENANT_ACCESS_DENIED"),
        (("suspend", "acme", *admin), "PERMISSION_DENIED"),
        (("resume", "acme", "--json", *admin), "PERMISSION_DENIED"),
        (("show", "nowhere", "--target", world.target, *world.as_pki("operator")), "NOT_FOUND"),
    ]
    for args, code in cases:
        ran = await aesp(*args)
        assert (ran.code, ran.out) == (1, ""), (args, ran)
        assert ran.err.startswith(f"aesp: {code}: "), (args, ran.err)
        assert "correlation id " in ran.err
    assert await world.status("acme") is TenantStatus.ACTIVE
    assert await world.status("globex") is TenantStatus.ACTIVE


async def test_an_api_key_from_the_environment_or_the_flag(world: World) -> None:
    cert, key = world.pki.client("admin")
    channel = grpc.aio.secure_channel(
        world.target,
        channel_credentials(world.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
    )
    try:
        created = await identity_pb2_grpc.EnterpriseIdentityServiceStub(
            channel
        ).CreateServiceAccount(idp.CreateServiceAccountRequest(name="cli", roles=["tenant-admin"]))
    finally:
        await channel.close()
    api_key = created.success_details.api_key
    assert api_key, created
    tls_only = ["--target", f"localhost:{world.running.client_tls_port}", "--ca", str(world.pki.ca)]
    from_env = await aesp("show", "--json", *tls_only, env={"AESP_API_KEY": api_key})
    assert from_env.code == 0, from_env.err
    assert json.loads(from_env.out)["tenant_id"] == "acme"
    wrong = await aesp("show", *tls_only, "--api-key", api_key[:-4] + "0000")
    assert wrong.code == 1 and wrong.err.startswith("aesp: INVALID_CREDENTIALS: "), wrong.err
    both = await aesp(
        "show", *tls_only, "--api-key", api_key, "--cert", str(cert), "--key", str(key)
    )
    assert both.code == 1 and "not both" in both.err
    for ran in (from_env, wrong, both):
        assert api_key not in ran.out + ran.err


async def test_an_unreachable_host_is_reported_not_raised(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    ran = await aesp("show", "--target", closed, *world.as_pki("admin"))
    assert ran.code == 1 and "Traceback" not in ran.err
    assert ran.err.startswith(f"aesp: the Host at {closed} did not answer: UNAVAILABLE"), ran.err

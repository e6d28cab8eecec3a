"""Parts of the gateway's end-to-end tests: a Host with both client listeners, API keys, a JWKS.

Everything the Host sees is real: TLS 1.3 with certificates from one development PKI, API keys
issued exactly as the Identity service issues them (hashed with the Host's own pepper file,
stored in the Host's Identity port), and bearer JWTs signed with an ES256 key whose JWKS a
loopback HTTP server publishes (``OidcVerifier`` allows plain HTTP only to loopback). No npm
process is needed: the gateway verifies tokens; minting them is not what is under test.
The only stand-in is :class:`ClockedState`, which lets a test decide what time the rate-limit
buckets see, so waits are exact instead of timing-dependent.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from aesp_local.state import MemoryStateStore
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from aesp.certs import DevPki
from aesp.core.audit import AuditEvent
from aesp.core.config import GatewayConfig, HostConfig, IdentityConfig, OidcConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.ids import now_ms
from aesp.core.ports.identity import PrincipalRecord, PrincipalType, ServiceAccount
from aesp.core.ports.state import BucketSpec, RuntimeRecord, SessionRecord, StateStore
from aesp.core.rbac import RoleDefinition
from aesp.identity.apikeys import ApiKeyRecord, generate_api_key
from aesp.server.app import RunningHost, start_host
from aesp.server.gateway import pepper_for
from aesp.testing.harness import write_manifest

AUDIENCE = "urn:aesp:gateway-test"
TOOL_GROUP = "tool-users"
ACCESS = AccessConfig(
    roles=(RoleDefinition("tool-user", ("tool:*:invoke",)),),
    group_roles={"certificate:client": ("tool-user",), TOOL_GROUP: ("tool-user",)},
)
ECHO: Mapping[str, Any] = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {
        "type": "OBJECT",
        "properties": {"text": {"type": "STRING"}},
        "required": ["text"],
    },
}


class FakeClock:
    """Unix milliseconds that move only when the test says so."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        """Move the clock forward."""
        self.now_ms += ms


class ClockedState:
    """A real State port whose buckets see the test's clock instead of the Host's."""

    def __init__(self, clock: FakeClock, inner: StateStore | None = None) -> None:
        self.clock = clock
        self.inner = inner or MemoryStateStore()

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        """Take from the real store at the test's time."""
        return await self.inner.take(key, spec, now_ms=self.clock(), cost=cost)

    async def put_session(self, record: SessionRecord) -> None:
        """Store a session record in the real store."""
        await self.inner.put_session(record)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """Read a session record from the real store."""
        return await self.inner.get_session(session_id)

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session record from the real store."""
        return await self.inner.delete_session(session_id)

    async def put_runtime(self, record: RuntimeRecord) -> None:
        """Store a runtime record in the real store."""
        await self.inner.put_runtime(record)

    async def delete_runtime(self, connection_id: str) -> bool:
        """Delete a runtime record from the real store."""
        return await self.inner.delete_runtime(connection_id)

    async def claim(self, key: str, *, until_ms: int, now_ms: int) -> bool:
        """Claim in the real store (the SAML verifier's own clock gives the times)."""
        return await self.inner.claim(key, until_ms=until_ms, now_ms=now_ms)

    async def runtimes(self, tenant_id: str, *, now_ms: int) -> Sequence[RuntimeRecord]:
        """A tenant's live runtime records in the real store (at the caller's time)."""
        return await self.inner.runtimes(tenant_id, now_ms=now_ms)

    async def close(self) -> None:
        """Close the real store."""
        await self.inner.close()


class JwksServer:
    """An ES256 signing key and a loopback HTTP server publishing its JWKS at ``/jwks``."""

    def __init__(self, kid: str = "gw-1") -> None:
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        body = json.dumps({"keys": [{**public, "kid": kid, "alg": "ES256", "use": "sig"}]})
        self.fetches = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path != "/jwks":
                    self.send_error(404)
                    return
                server_self.fetches += 1
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Cache-Control", "max-age=300")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        """The issuer URL (``iss``), on the server's loopback port."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> JwksServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def oidc_config(self, tenant: str = "default") -> OidcConfig:
        """``[identity.oidc]`` for this issuer, one tenant per issuer."""
        return OidcConfig(
            issuer=self.issuer,
            audience=AUDIENCE,
            tenant=tenant,
            algorithms=("ES256",),
            jwks_uri=f"{self.issuer}/jwks",
        )

    def token(
        self, sub: str = "alice", *, lifetime_s: int = 300, key: Any = None, **claims: Any
    ) -> str:
        """A signed access token (``key`` defaults to the published one)."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "exp": now + lifetime_s,
            "groups": [TOOL_GROUP],
            "jti": secrets.token_hex(8),
            **claims,
        }
        return jwt.encode(
            payload, key or self.key, algorithm="ES256", headers={"kid": self.kid, "typ": "at+jwt"}
        )


@dataclass
class GatewayHost:
    """A running Host and what the gateway tests need from it."""

    running: RunningHost
    pki: DevPki
    config: HostConfig

    @property
    def certificate_target(self) -> str:
        """The mutual-TLS client listener."""
        return f"localhost:{self.running.client_port}"

    @property
    def tls_target(self) -> str:
        """The client listener that asks for no certificate (tokens, API keys)."""
        return f"localhost:{self.running.client_tls_port}"

    @property
    def runtime_target(self) -> str:
        """The Runtime listener."""
        return f"localhost:{self.running.runtime_port}"

    @property
    def ca(self) -> bytes:
        """The development CA (it also signed the Host's certificate)."""
        return self.pki.ca.read_bytes()

    def client_pem(self, name: str = "demo") -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) of a client certificate."""
        cert, key = self.pki.client(name)
        return self.ca, cert.read_bytes(), key.read_bytes()

    def runtime_pem(self, name: str = "example") -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) of a runtime certificate."""
        cert, key = self.pki.runtime(name)
        return self.ca, cert.read_bytes(), key.read_bytes()

    def events(self, event_type: str) -> list[AuditEvent]:
        """The audit events of one type, oldest first."""
        return [e for e in self.running.host.audit.events() if e.event_type == event_type]

    async def issue_api_key(
        self, name: str, *, tenant: str = "default", expires_at_ms: int = 0, grant: bool = True
    ) -> tuple[str, str]:
        """Create a service account with one API key, as ``CreateServiceAccount`` does.

        Returns:
            (the key to present, the account's principal id).
        """
        issued = generate_api_key(
            self.config.identity.api_keys.prefix, pepper=pepper_for(self.config)
        )
        created = now_ms()
        account_id = f"sa-{name}"
        principal_id = f"api_key|aesp|{account_id}"
        record = ApiKeyRecord(
            key_id=issued.key_id,
            service_account_id=account_id,
            tenant_id=tenant,
            stored_hash=issued.stored_hash,
            created_at_ms=created,
            expires_at_ms=expires_at_ms,
        )
        control = self.running.host.control
        await control.identity.create_service_account(
            ServiceAccount(account_id, tenant, name, record),
            PrincipalRecord(
                principal_id,
                tenant,
                PrincipalType.SERVICE_ACCOUNT,
                display_name=name,
                source="api_key",
                created_at_ms=created,
                updated_at_ms=created,
            ),
        )
        if grant:
            await control.roles.set_assignment(principal_id, tenant_id=tenant, roles=("tool-user",))
            await control.roles_changed()
        return issued.secret_to_show_once, principal_id

    async def revoke(self, principal_id: str) -> None:
        """Revoke a service account's key, as ``RevokeServiceAccount`` does."""
        account_id = principal_id.rsplit("|", 1)[1]
        await self.running.host.control.identity.revoke_service_account(account_id, at_ms=now_ms())


@asynccontextmanager
async def gateway_host(
    directory: Path,
    pki: DevPki,
    *,
    gateway: GatewayConfig | None = None,
    oidc: OidcConfig | None = None,
    identity: IdentityConfig | None = None,
    state: StateStore | None = None,
    contracts: Sequence[Mapping[str, Any]] = (ECHO,),
) -> AsyncIterator[GatewayHost]:
    """A Host with a mutual-TLS and a TLS-only client listener; stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    config = HostConfig(
        manifest_path=write_manifest(directory / "manifest.json", contracts),
        client_listen="127.0.0.1:0",
        client_tls_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=directory / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        gateway=gateway or GatewayConfig(),
        identity=identity or IdentityConfig(oidc=oidc),
    )
    running = await start_host(config, state=state, access=ACCESS)
    try:
        yield GatewayHost(running, pki, config)
    finally:
        await running.stop(grace=0.2)
        if state is not None:
            await state.close()

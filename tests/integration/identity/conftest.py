"""OIDC fixtures: a real OpenID Connect provider process (npm ``oidc-provider``) with keys we hold.

Why a real provider: the verifier must accept what a real IdP publishes (discovery, the JWKS
media type, RFC 9068 access tokens). Why keys generated here: the negative tests need tokens the
provider would never mint (no ``exp``, a future ``nbf``, another ``iss``) but signed with the
provider's genuine key, so that only the claim under test is wrong.

The provider lives in ``oidc_provider/``; ``scripts/system_deps.sh`` installs its npm packages.
A missing ``node`` or ``node_modules`` fails the tests with instructions rather than skipping
them, so a machine without them cannot pass silently.

LDAP and SAML fixtures live in ``conftest_ldap_saml.py`` (another engineer's file).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
AUDIENCE = "urn:aesp:api"
OTHER_AUDIENCE = "urn:other:api"
CLIENT_SECRET = "secret"
_READY_TIMEOUT_S = 15.0
_MIN_NODE_MAJOR = 20

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """One signing key the provider publishes and the tests can also sign with.

    Attributes:
        kid: Key id.
        alg: The JWS algorithm it is pinned to.
        private_key: The ``cryptography`` private key.
    """

    kid: str
    alg: str
    private_key: PrivateKey

    def private_jwk(self) -> dict[str, Any]:
        """The private JWK the provider loads."""
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            jwk = ECAlgorithm.to_jwk(key, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
        jwk.pop("key_ops", None)  # PyJWT marks private keys "sign"; the provider would publish it
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


@dataclass(frozen=True)
class KeySet:
    """A generation of provider keys: one per algorithm the tests use.

    Attributes:
        es256: ECDSA P-256 key (signs the provider's ES256 access tokens).
        rs256: RSA-2048 key pinned to RS256 (signs the provider's RS256 access tokens).
        ps256: RSA-2048 key pinned to PS256 (published; the tests sign with it).
        eddsa: Ed25519 key (published; the tests sign with it).
    """

    es256: KeyPair
    rs256: KeyPair
    ps256: KeyPair
    eddsa: KeyPair

    @property
    def all(self) -> tuple[KeyPair, ...]:
        """Every key of the set."""
        return (self.es256, self.rs256, self.ps256, self.eddsa)


def make_key_set(generation: str) -> KeySet:
    """Generate a fresh key set whose kids end in ``generation`` (e.g. ``ec-a``, ``ec-b``).

    Args:
        generation: A short label distinguishing rotations.

    Returns:
        The keys.
    """

    def rsa_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return KeySet(
        es256=KeyPair(f"ec-{generation}", "ES256", ec.generate_private_key(ec.SECP256R1())),
        rs256=KeyPair(f"rsa-{generation}", "RS256", rsa_key()),
        ps256=KeyPair(f"ps-{generation}", "PS256", rsa_key()),
        eddsa=KeyPair(f"ed-{generation}", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "The OIDC tests need Node.js (`node`) to run a real OIDC provider; run "
            "scripts/system_deps.sh, or install Node.js 20+ and npm.",
            pytrace=False,
        )
    version = subprocess.run(
        [node, "-e", "process.stdout.write(process.versions.node)"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    if int(version.split(".")[0] or 0) < _MIN_NODE_MAJOR:
        pytest.fail(
            f"The OIDC tests need Node.js {_MIN_NODE_MAJOR} or newer for npm oidc-provider 9; "
            f"found {version or 'an unknown version'} at {node}.",
            pytrace=False,
        )
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            f"The npm package oidc-provider is not installed in {PROVIDER_DIR}; run "
            "scripts/system_deps.sh (it runs `npm ci` there).",
            pytrace=False,
        )
    return node


@dataclass
class OidcProvider:
    """A running ``oidc-provider`` process.

    Attributes:
        port: Its port on 127.0.0.1.
        keys: The keys it was started with, in publication order.
        workdir: Where its key file and log live.
        process: The Node process.
    """

    port: int
    keys: Sequence[KeyPair]
    workdir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    audience: str = AUDIENCE
    other_audience: str = OTHER_AUDIENCE

    @property
    def issuer(self) -> str:
        """The issuer URL, exactly as the provider puts it in ``iss``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_uri(self) -> str:
        """The provider's JWKS endpoint."""
        return f"{self.issuer}/jwks"

    @property
    def log(self) -> str:
        """What the process wrote so far (for failure messages)."""
        path = self.workdir / f"provider-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, max_age_s: int = 600) -> None:
        """Start the process and wait until it serves its discovery document.

        Args:
            max_age_s: ``Cache-Control`` max-age the provider sends with its JWKS.
        """
        node = _require_node()
        keys_file = self.workdir / f"keys-{self.port}.json"
        keys_file.write_text(json.dumps({"keys": [k.private_jwk() for k in self.keys]}))
        log = (self.workdir / f"provider-{self.port}.log").open("ab")
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_KEYS_FILE": str(keys_file),
            "OIDC_JWKS_MAX_AGE": str(max_age_s),
        }
        self.process = subprocess.Popen(
            [node, "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + _READY_TIMEOUT_S
        url = f"{self.issuer}/.well-known/openid-configuration"
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"the OIDC provider exited early:\n{self.log}", pytrace=False)
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(
                    f"the OIDC provider was not ready in {_READY_TIMEOUT_S} s:\n{self.log}",
                    pytrace=False,
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process (and wait for it)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def token(self, client_id: str = "svc-es", resource: str = AUDIENCE) -> str:
        """Obtain an access token with the client-credentials grant.

        Args:
            client_id: ``svc-es`` (ES256, tenant acme), ``svc-rs`` (RS256, tenant acme) or
                ``svc-rogue`` (ES256, tenant globex).
            resource: The resource indicator, which becomes ``aud``.

        Returns:
            The compact JWT access token.
        """
        body = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": "tools:invoke", "resource": resource}
        ).encode()
        basic = base64.b64encode(f"{client_id}:{CLIENT_SECRET}".encode()).decode()
        request = urllib.request.Request(
            f"{self.issuer}/token",
            data=body,
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return str(json.load(response)["access_token"])
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"token request failed: {exc.code} {exc.read()!r}") from None

    def jwks_requests(self) -> int:
        """How many times the provider has served its JWKS (its own count, over HTTP)."""
        with urllib.request.urlopen(f"{self.issuer}/__stats", timeout=5) as response:
            return int(json.load(response)["jwks_requests"])


@pytest.fixture(scope="session")
def oidc_key_factory() -> Callable[[str], KeySet]:
    """:func:`make_key_set`, for tests that rotate keys or need attacker keys."""
    return make_key_set


@pytest.fixture(scope="session")
def oidc_keys() -> KeySet:
    """The key set of the session-wide provider."""
    return make_key_set("a")


@pytest.fixture(scope="session")
def oidc_provider(
    oidc_keys: KeySet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProvider]:
    """A real OIDC provider for the whole session, publishing :func:`oidc_keys`."""
    provider = OidcProvider(free_port(), oidc_keys.all, tmp_path_factory.mktemp("oidc"))
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def start_oidc_provider(
    tmp_path: Path,
) -> Iterator[Callable[..., OidcProvider]]:
    """Start providers for one test (key rotation, outages); all are stopped afterwards.

    Yields:
        ``start(keys, port=None, max_age_s=600)``: starts a provider publishing ``keys`` (in that
        order) on ``port`` (a free one when ``None``; pass an old provider's port to "restart"
        the same issuer with new keys).
    """
    started: list[OidcProvider] = []

    def start(
        keys: Sequence[KeyPair], port: int | None = None, max_age_s: int = 600
    ) -> OidcProvider:
        provider = OidcProvider(port or free_port(), tuple(keys), tmp_path)
        started.append(provider)
        provider.start(max_age_s=max_age_s)
        return provider

    try:
        yield start
    finally:
        for provider in started:
            provider.stop()

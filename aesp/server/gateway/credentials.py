"""Who is calling: the one credential of a request, verified, as a core :class:`Principal`.

The client port accepts four kinds of credential (SPEC C-30: TLS 1.3 plus token
authentication, client certificates optional): ``authorization: Bearer <jwt>`` (OIDC),
``authorization: ApiKey <key>`` or ``x-api-key: <key>`` (service accounts),
``authorization: Basic <base64 user:password>`` (LDAP, when configured), and a client
certificate of the Host's trust domain. Rules:

1. Exactly one credential. Two (say a certificate *and* a token) are refused: the Host will not
   guess which identity the caller meant.
2. None is ``AUTHENTICATION_FAILED`` (C-9: no anonymous callers); a bad one is whatever its
   verifier says, normally ``INVALID_CREDENTIALS``, with the verifier's sentence.
3. The principal is built from the verified identity only; ``source_ip`` is the transport peer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

import grpc.aio

from aesp.core.errors import AespError, AuthenticationError
from aesp.core.principal import Principal, principal_from_peer
from aesp.identity.types import VerifiedIdentity
from aesp.server.gateway._caches import VerifiedCache, credential_digest
from aesp.server.gateway.verifiers import (
    ApiKeyVerifier,
    BasicVerifier,
    BearerVerifier,
    Verified,
    decode_basic,
)
from aesp.server.tls import peer_identity

__all__ = ["Authentication", "CredentialResolver", "Presented", "presented", "to_principal"]

_SCHEMES: Final = {"bearer": "bearer", "apikey": "api_key", "basic": "basic"}
_NAMES: Final = {
    "bearer": "a bearer token",
    "api_key": "an API key",
    "basic": "a user name and password",
    "certificate": "a client certificate",
    "unsupported": "an authorization header",
}
CERTIFICATE_SEEN_S: Final = 300.0  # a certificate in steady use is audited every 5 minutes
CERTIFICATE_CACHE_SIZE: Final = 10_000  # bounds memory: distinct certificates remembered
_PRINTABLE: Final = re.compile(r"[^\x21-\x7e]")


@dataclass(frozen=True, slots=True)
class Presented:
    """One credential found in the request metadata: its kind and the value after the scheme."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Authentication:
    """The outcome of authenticating one request.

    Attributes:
        method: ``bearer``, ``api_key``, ``basic``, ``certificate``, or ``none``.
        principal: The verified principal; None when refused.
        error: The refusal; None when authenticated.
        fresh: The credential was verified now, not recognised from a cache (audit it).
        hint: A public name of the credential for the audit trail (an API key's id, an LDAP
            user name); never a secret.
    """

    method: str
    principal: Principal | None = None
    error: AespError | None = None
    fresh: bool = False
    hint: str = ""


def presented(metadata: Iterable[tuple[str, str | bytes]]) -> list[Presented]:
    """Every credential in gRPC invocation metadata (keys arrive lower-case)."""
    found: list[Presented] = []
    for key, value in metadata:
        if not isinstance(value, str):
            continue  # binary (-bin) headers carry no credential of ours
        if key == "authorization":
            scheme, _, rest = value.strip().partition(" ")
            found.append(Presented(_SCHEMES.get(scheme.lower(), "unsupported"), rest.strip()))
        elif key == "x-api-key":
            found.append(Presented("api_key", value.strip()))
    return found


def to_principal(identity: VerifiedIdentity, source_ip: str) -> Principal:
    """The core principal of a verified identity (roles are never taken from it, C-54)."""
    return Principal(
        principal_id=identity.principal_id,
        tenant_id=identity.tenant_id,
        kind="client",
        name=identity.display_name or identity.subject,
        source=identity.source,
        expires_at_ms=identity.expires_at_ms,
        groups=identity.groups,
        claims=dict(identity.claims),
        mfa=identity.mfa,
        display_name=identity.display_name,
        source_ip=source_ip,
    )


def _failed(sentence: str) -> AuthenticationError:
    return AuthenticationError("AUTHENTICATION_FAILED", sentence)


def _not_enabled(what: str, alternatives: str) -> AuthenticationError:
    return _failed(f"This Host does not accept {what}; present {alternatives}.")


class CredentialResolver:
    """Finds the request's one credential and verifies it with the configured verifier.

    Args:
        trust_domain: SPIFFE trust domain of certificate principals.
        accept_certificates: Whether a client certificate is a credential (``gateway``
            ``client_certificates``); when False a certificate is ignored.
        bearer: The OIDC front, or None when bearer tokens are not accepted.
        api_keys: The API-key front, or None when API keys are not accepted.
        basic: The LDAP front, or None when user names and passwords are not accepted.
    """

    def __init__(
        self,
        *,
        trust_domain: str,
        accept_certificates: bool,
        bearer: BearerVerifier | None,
        api_keys: ApiKeyVerifier | None,
        basic: BasicVerifier | None,
    ) -> None:
        self._trust_domain = trust_domain
        self._accept_certificates = accept_certificates
        self._bearer, self._api_keys, self._basic = bearer, api_keys, basic
        self._certificates: VerifiedCache[bool] = VerifiedCache(
            CERTIFICATE_CACHE_SIZE, CERTIFICATE_SEEN_S
        )
        kinds = ["a bearer token" if bearer else "", "an API key" if api_keys else ""]
        kinds += ["a user name and password" if basic else ""]
        kinds += ["a client certificate" if accept_certificates else ""]
        accepted = [k for k in kinds if k]
        if len(accepted) > 1:  # "a bearer token, an API key or a client certificate"
            self._accepted = f"{', '.join(accepted[:-1])} or {accepted[-1]}"
        else:
            self._accepted = "".join(accepted) or "a credential this Host is configured to accept"

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Authentication:
        """Authenticate the current RPC from its metadata and TLS peer (never raises)."""
        source_ip = context.peer() or ""
        credentials = presented(context.invocation_metadata() or ())
        certificate, no_principal, fingerprint = self._certificate(context, source_ip)
        kinds = [c.kind for c in credentials] + (["certificate"] if certificate else [])
        if len(kinds) > 1:
            names = " and ".join(_NAMES[k] for k in kinds)
            return Authentication(
                "none",
                error=_failed(f"The request presents {names}; present exactly one credential."),
            )
        if certificate is not None:
            return Authentication("certificate", certificate, fresh=self._first_sight(fingerprint))
        if not credentials:
            if no_principal is not None:
                return Authentication("certificate", error=no_principal)
            return Authentication(
                "none", error=_failed(f"No credential was presented; present {self._accepted}.")
            )
        return await self._verify(credentials[0], source_ip)

    async def _verify(self, credential: Presented, source_ip: str) -> Authentication:
        kind, value = credential.kind, credential.value
        hint = self._hint(credential)
        try:
            verified = await self._dispatch(kind, value)
        except AespError as exc:
            return Authentication(kind, error=exc, hint=hint)
        identity, fresh = verified
        return Authentication(kind, to_principal(identity, source_ip), fresh=fresh, hint=hint)

    async def _dispatch(self, kind: str, value: str) -> Verified:
        if kind == "bearer":
            if self._bearer is None:
                raise _not_enabled("bearer tokens (no identity provider)", self._accepted)
            return await self._bearer.verify(value)
        if kind == "api_key":
            if self._api_keys is None:
                raise _not_enabled("API keys", self._accepted)
            return await self._api_keys.verify(value)
        if kind == "basic":
            if self._basic is None:
                raise _not_enabled("user names and passwords (no directory)", self._accepted)
            return await self._basic.verify(value)
        raise _failed(
            "The authorization header uses a scheme this Host does not accept; "
            "use Bearer, ApiKey or Basic."
        )

    def _hint(self, credential: Presented) -> str:
        if credential.kind == "api_key" and self._api_keys is not None:
            return self._api_keys.key_id(credential.value)
        if credential.kind == "basic":
            try:
                return _PRINTABLE.sub("?", decode_basic(credential.value)[0])[:64]
            except AuthenticationError:
                return ""
        return ""

    def _certificate(
        self, context: grpc.aio.ServicerContext, source_ip: str
    ) -> tuple[Principal | None, AuthenticationError | None, str]:
        """(principal of an accepted certificate, refusal of an unusable one, fingerprint)."""
        peer = peer_identity(context) if self._accept_certificates else None
        if peer is None:
            return None, None, ""
        fingerprint = peer.certificate.fingerprint_sha256
        principal = principal_from_peer(peer, trust_domain=self._trust_domain)
        if principal is None:
            refusal = _failed(
                f"The client certificate carries no SPIFFE id of trust domain "
                f"'{self._trust_domain}'; use a certificate issued by `aesp certs`."
            )
            return None, refusal, fingerprint
        return replace(principal, source_ip=source_ip), None, fingerprint

    def _first_sight(self, fingerprint: str) -> bool:
        """Whether this certificate has not been seen lately (so its use is audited once)."""
        key = credential_digest("certificate", fingerprint)
        if self._certificates.get(key):
            return False
        self._certificates.put(key, True)
        return True

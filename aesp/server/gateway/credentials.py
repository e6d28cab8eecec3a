"""Who is calling: the one credential of a request, verified, as a core :class:`Principal`.

The client port accepts these credentials (SPEC C-30: TLS 1.3 plus token authentication,
client certificates optional): ``authorization: Bearer <jwt>`` (OIDC, or a session token this
Host issued), ``authorization: ApiKey <key>`` or ``x-api-key: <key>`` (service accounts),
``authorization: Basic <base64 user:password>`` (LDAP, when configured),
``authorization: SAML <base64 SAMLResponse>`` (when configured), and a client certificate of
the Host's trust domain. Rules:

1. Exactly one credential. Two (say a certificate *and* a token) are refused: the Host will not
   guess which identity the caller meant.
2. None is ``AUTHENTICATION_FAILED`` (C-9: no anonymous callers); a bad one is whatever its
   verifier says, normally ``INVALID_CREDENTIALS``, with the verifier's sentence.
3. The principal is built from the verified identity only; ``source_ip`` is the transport peer.
4. A bearer token whose (unverified) ``iss`` is this Host's issuer goes to the Host-token
   verifier and nowhere else; any other bearer token goes to OIDC.
5. A SAML response is single-use and a password should not travel with every call, so both are
   exchanged: the verified identity is also issued a Host session token (AWS STS
   ``AssumeRoleWithSAML``), which the gateway returns in the response's initial metadata. The
   principal of that call already carries the token's expiry, so a session created with it
   ends when the token does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

import grpc.aio

from aesp.core.errors import AespError, AuthenticationError
from aesp.core.principal import Principal, principal_from_peer
from aesp.identity.host_tokens import HostTokenIssuer, IssuedToken
from aesp.identity.types import VerifiedIdentity
from aesp.server.gateway._caches import VerifiedCache, credential_digest
from aesp.server.gateway.verifiers import (
    ApiKeyVerifier,
    BasicVerifier,
    BearerVerifier,
    HostTokenFront,
    SamlFront,
    Verified,
    decode_basic,
)
from aesp.server.tls import peer_identity

__all__ = ["Authentication", "CredentialResolver", "Presented", "presented", "to_principal"]

_SCHEMES: Final = {"bearer": "bearer", "apikey": "api_key", "basic": "basic", "saml": "saml"}
_NAMES: Final = {
    "bearer": "a bearer token",
    "api_key": "an API key",
    "basic": "a user name and password",
    "saml": "a SAML response",
    "certificate": "a client certificate",
    "unsupported": "an authorization header",
}
#: Credentials exchanged for a Host session token (single-use, or a secret not to resend).
EXCHANGED: Final = frozenset({"saml", "basic"})
#: The verified claim of a SAML identity naming the end of the IdP's session (Unix ms).
SAML_SESSION_END_CLAIM: Final = "session_not_on_or_after_ms"
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
        method: ``bearer``, ``host_token``, ``api_key``, ``basic``, ``saml``, ``certificate``,
            or ``none``.
        principal: The verified principal; None when refused.
        error: The refusal; None when authenticated.
        fresh: The credential was verified now, not recognised from a cache (audit it).
        hint: A public name of the credential for the audit trail (an API key's id, an LDAP
            user name, a session token's id); never a secret.
        session_token: The Host session token issued in exchange for a SAML response or a
            password; None for other credentials.
    """

    method: str
    principal: Principal | None = None
    error: AespError | None = None
    fresh: bool = False
    hint: str = ""
    session_token: IssuedToken | None = None


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


def exchange_deadline_ms(identity: VerifiedIdentity) -> int:
    """When the login behind ``identity`` ends (Unix ms; 0 = not known).

    For SAML the IdP's ``SessionNotOnOrAfter``, not the assertion's own ``NotOnOrAfter``: the
    latter bounds when the assertion may be *presented* (minutes), the former how long the
    session it starts may last (what STS caps its credentials at). Otherwise the credential's
    own expiry.
    """
    if identity.source == "saml":
        value = identity.claims.get(SAML_SESSION_END_CLAIM, "")
        return int(value) if value.isdigit() else 0
    return identity.expires_at_ms


class CredentialResolver:
    """Finds the request's one credential and verifies it with the configured verifier.

    Args:
        trust_domain: SPIFFE trust domain of certificate principals.
        accept_certificates: Whether a client certificate is a credential (``gateway``
            ``client_certificates``); when False a certificate is ignored.
        bearer: The OIDC front, or None when bearer tokens are not accepted.
        api_keys: The API-key front, or None when API keys are not accepted.
        basic: The LDAP front, or None when user names and passwords are not accepted.
        saml: The SAML front, or None when SAML responses are not accepted.
        host_tokens: The front of this Host's own session tokens, or None.
        issuer: Issues session tokens for SAML and LDAP logins; None issues none.
    """

    def __init__(
        self,
        *,
        trust_domain: str,
        accept_certificates: bool,
        bearer: BearerVerifier | None,
        api_keys: ApiKeyVerifier | None,
        basic: BasicVerifier | None,
        saml: SamlFront | None = None,
        host_tokens: HostTokenFront | None = None,
        issuer: HostTokenIssuer | None = None,
    ) -> None:
        self._trust_domain = trust_domain
        self._accept_certificates = accept_certificates
        self._bearer, self._api_keys, self._basic = bearer, api_keys, basic
        self._saml, self._host_tokens, self._issuer = saml, host_tokens, issuer
        self._certificates: VerifiedCache[bool] = VerifiedCache(
            CERTIFICATE_CACHE_SIZE, CERTIFICATE_SEEN_S
        )
        self._schemes = "Bearer, ApiKey, Basic or SAML" if saml else "Bearer, ApiKey or Basic"
        exchanging = issuer is not None and host_tokens is not None and (saml or basic)
        kinds = ["a bearer token" if bearer else "", "an API key" if api_keys else ""]
        kinds += ["a user name and password" if basic else "", "a SAML response" if saml else ""]
        kinds += ["a Host session token" if exchanging else ""]
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
        if kind == "bearer" and self._host_tokens is not None and self._host_tokens.owns(value):
            kind = "host_token"  # rule 4: never sent to the OIDC verifier
        hint = self._hint(credential)
        try:
            identity, fresh = await self._dispatch(kind, value)
            token = None
            if kind in EXCHANGED and self._issuer is not None:  # rule 5
                token = self._issuer.issue(identity, not_after_ms=exchange_deadline_ms(identity))
                identity = replace(identity, expires_at_ms=token.expires_at_ms)
        except AespError as exc:
            return Authentication(kind, error=exc, hint=hint)
        if kind == "host_token":
            hint = identity.claims.get("token_id", "")  # verified now, so safe to record
        principal = to_principal(identity, source_ip)
        return Authentication(kind, principal, fresh=fresh, hint=hint, session_token=token)

    async def _dispatch(self, kind: str, value: str) -> Verified:
        if kind == "host_token" and self._host_tokens is not None:
            return await self._host_tokens.verify(value)
        if kind == "saml":
            if self._saml is None:
                raise _not_enabled("SAML responses (no SAML identity provider)", self._accepted)
            return await self._saml.verify(value)
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
            f"use {self._schemes}."
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

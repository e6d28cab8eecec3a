"""The result of verifying a credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """Who a verified credential names.

    Attributes:
        principal_id: Stable, globally unique id, ``<source>|<issuer>|<subject>`` (e.g.
            ``oidc|https://idp.example|alice``), so two IdPs can never collide.
        tenant_id: The tenant, from the IdP's configuration or a verified claim; never from a
            request field.
        source: ``oidc``, ``ldap``, ``saml``, ``api_key`` or ``certificate``.
        issuer: The IdP that vouched (``iss``, LDAP URL, SAML IdP entity id, ...).
        subject: The IdP's id of the principal (``sub``, uid, NameID, key id).
        display_name: A human-readable name, if the IdP gave one.
        groups: IdP groups; configuration maps them to roles.
        claims: Other verified claims/attributes, as strings.
        expires_at_ms: When the credential stops being valid (0 = unknown).
        mfa: Whether the IdP asserted multi-factor authentication.
    """

    principal_id: str
    tenant_id: str
    source: str
    issuer: str
    subject: str
    display_name: str = ""
    groups: tuple[str, ...] = ()
    claims: Mapping[str, str] = field(default_factory=dict)
    expires_at_ms: int = 0
    mfa: bool = False

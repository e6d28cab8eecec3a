"""The verified caller, as the pipeline sees it.

A :class:`Principal` is built at the edge from *verified* identity only (a certificate the TLS
handshake checked; later, tokens and API keys). Its tenant is never taken from a request field
(DESIGN principle 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aesp.core.identity import PeerIdentity


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling.

    Attributes:
        principal_id: Stable id; for certificate identities the SPIFFE id.
        tenant_id: Tenant from verified identity.
        kind: ``client``, ``runtime`` or ``host`` (the SPIFFE path's kind).
        name: Short name (the SPIFFE path's last segment).
        source: How the identity was verified, e.g. ``certificate``.
        expires_at_ms: When the credential stops being valid (0 = not known).
        groups: IdP groups the credential asserted (mapped to roles by configuration).
        claims: Other verified claims, as strings (``EnterpriseSecurityContext.claims``).
        mfa: Whether the IdP asserted multi-factor authentication.
        display_name: A human-readable name, if the credential gave one.
        source_ip: The peer address of the current request (audit and policy context).
    """

    principal_id: str
    tenant_id: str
    kind: str
    name: str
    source: str = "certificate"
    expires_at_ms: int = 0
    groups: tuple[str, ...] = ()
    claims: Mapping[str, str] = field(default_factory=dict, compare=False)
    mfa: bool = False
    display_name: str = ""
    source_ip: str = ""


def principal_from_peer(peer: PeerIdentity | None, *, trust_domain: str) -> Principal | None:
    """The principal named by a verified peer certificate, or None if it names none we trust.

    None means: no certificate, no SPIFFE id, or a SPIFFE id of another trust domain.
    """
    if peer is None or peer.spiffe is None or peer.spiffe.trust_domain != trust_domain:
        return None
    spiffe = peer.spiffe
    return Principal(
        principal_id=peer.certificate.spiffe_id,
        tenant_id=spiffe.tenant,
        kind=spiffe.kind,
        name=spiffe.name,
        source="certificate",
        expires_at_ms=peer.certificate.not_after_ms,
    )

"""The verified caller, as the pipeline sees it.

A :class:`Principal` is built at the edge from *verified* identity only (a certificate the TLS
handshake checked; later, tokens and API keys). Its tenant is never taken from a request field
(DESIGN principle 4).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    principal_id: str
    tenant_id: str
    kind: str
    name: str
    source: str = "certificate"
    expires_at_ms: int = 0


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

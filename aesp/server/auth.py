"""Who is calling on the Runtime port: the verified certificate of the RPC, as a Principal.

The TLS handshake has already verified the chain against the Host's CA; this only reads the
result (SPEC C-2). A certificate without a SPIFFE id of the Host's trust domain yields None,
and the servicer refuses the call with ``AUTHENTICATION_FAILED``. The client port
authenticates in its gateway instead (:mod:`aesp.server.gateway`), which also accepts tokens
and API keys.
"""

from __future__ import annotations

import grpc

from aesp.core.errors import AuthenticationError
from aesp.core.identity import CertificateIdentity
from aesp.core.principal import Principal, principal_from_peer
from aesp.server.tls import peer_identity


def authenticate(
    context: grpc.aio.ServicerContext, trust_domain: str
) -> tuple[Principal, CertificateIdentity]:
    """The verified principal and certificate of this call.

    Raises:
        AuthenticationError: ``AUTHENTICATION_FAILED`` when no usable identity was presented.
    """
    peer = peer_identity(context)
    principal = principal_from_peer(peer, trust_domain=trust_domain)
    if principal is None or peer is None:
        raise AuthenticationError(
            "AUTHENTICATION_FAILED",
            f"The client certificate carries no SPIFFE id of trust domain '{trust_domain}'; "
            "use a certificate issued by `aesp certs`.",
        )
    return principal, peer.certificate

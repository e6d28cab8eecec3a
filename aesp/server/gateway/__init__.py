"""The API gateway of the client port: authenticate, rate-limit, size-check (SPEC §3.4, §3.19).

Servicers call :func:`admitted` to get the verified principal of the current RPC (or the
gateway's refusal, raised, already audited) and :func:`correlation_id` for its correlation id.
The Host builds the interceptor with :func:`build_gateway`. A SAML or LDAP login is answered
with a Host session token in the initial metadata (:data:`SESSION_TOKEN_HEADER`).
"""

from __future__ import annotations

from aesp.server.gateway.admission import (
    SESSION_TOKEN_EXPIRES_HEADER,
    SESSION_TOKEN_HEADER,
    Admission,
    admitted,
    correlation_id,
    current_admission,
)
from aesp.server.gateway.build import build_gateway
from aesp.server.gateway.interceptor import GatewayInterceptor
from aesp.server.gateway.pepper import load_or_create_pepper, pepper_for
from aesp.server.gateway.token_key import load_or_create_token_key, token_key_for

__all__ = [
    "SESSION_TOKEN_EXPIRES_HEADER",
    "SESSION_TOKEN_HEADER",
    "Admission",
    "GatewayInterceptor",
    "admitted",
    "build_gateway",
    "correlation_id",
    "current_admission",
    "load_or_create_pepper",
    "load_or_create_token_key",
    "pepper_for",
    "token_key_for",
]

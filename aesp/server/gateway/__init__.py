"""The API gateway of the client port: authenticate, rate-limit, size-check (SPEC §3.4, §3.19).

Servicers call :func:`admitted` to get the verified principal of the current RPC (or the
gateway's refusal, raised, already audited) and :func:`correlation_id` for its correlation id.
The Host builds the interceptor with :func:`build_gateway`.
"""

from __future__ import annotations

from aesp.server.gateway.admission import (
    Admission,
    admitted,
    correlation_id,
    current_admission,
)
from aesp.server.gateway.build import build_gateway
from aesp.server.gateway.interceptor import GatewayInterceptor
from aesp.server.gateway.pepper import load_or_create_pepper, pepper_for

__all__ = [
    "Admission",
    "GatewayInterceptor",
    "admitted",
    "build_gateway",
    "correlation_id",
    "current_admission",
    "load_or_create_pepper",
    "pepper_for",
]

"""What the gateway decided about the current RPC, handed to the servicer through a ContextVar.

Why a ContextVar and not an abort: GRID and AESP RPCs report refusals in-band (an
``EnhancedError`` or ``EnterpriseError`` inside the response), so the gateway must not end the
call with a gRPC status. It records its verdict here instead; the servicer asks
:func:`admitted` first and turns a raised refusal into its normal in-band error. The gateway
sets the variable in the RPC's own task, right before the servicer runs, so no other call can
see it (STYLE convention 8: interceptors only establish context).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Final

from aesp.core.errors import AespError, ExecutionError
from aesp.core.ids import accept_correlation_id
from aesp.core.principal import Principal
from aesp.identity.host_tokens import IssuedToken

__all__ = [
    "SESSION_TOKEN_EXPIRES_HEADER",
    "SESSION_TOKEN_HEADER",
    "Admission",
    "admitted",
    "correlation_id",
    "current_admission",
    "enter",
    "leave",
]

#: Initial-metadata key carrying a Host session token issued for a SAML or LDAP login.
SESSION_TOKEN_HEADER: Final = "aesp-session-token"
#: Initial-metadata key carrying that token's expiry, Unix milliseconds (decimal).
SESSION_TOKEN_EXPIRES_HEADER: Final = "aesp-session-token-expires-ms"


@dataclass(frozen=True, slots=True)
class Admission:
    """The gateway's verdict on one RPC.

    Attributes:
        correlation_id: The call's correlation id (the caller's if well-formed, item 105).
        principal: The verified caller; also set when a later gateway check refused the call
            (rate limit, size), so the refusal can name the principal and tenant (item 141).
        error: The refusal, or None when the call was admitted. When set, it has already been
            audited (``error.audited``).
        session_token: A Host session token issued to the verified caller (SAML or LDAP
            login); also set when a later gateway check refused the call, because the one-time
            credential is spent either way.
    """

    correlation_id: str
    principal: Principal | None = None
    error: AespError | None = None
    session_token: IssuedToken | None = None

    def response_metadata(self) -> tuple[tuple[str, str], ...]:
        """The initial metadata the gateway sends with the response (the session token)."""
        if self.session_token is None:
            return ()
        return (
            (SESSION_TOKEN_HEADER, self.session_token.token),
            (SESSION_TOKEN_EXPIRES_HEADER, str(self.session_token.expires_at_ms)),
        )


_CURRENT: ContextVar[Admission | None] = ContextVar("aesp_gateway_admission", default=None)


def enter(verdict: Admission) -> Token[Admission | None]:
    """Record ``verdict`` for the current RPC (the gateway's wrapper calls this)."""
    return _CURRENT.set(verdict)


def leave(token: Token[Admission | None]) -> None:
    """Forget the verdict once the RPC's handler has finished."""
    # A response stream closed by the event loop's finaliser runs in another context; the RPC's
    # own context, which holds the verdict, ends with its task anyway.
    with contextlib.suppress(ValueError):
        _CURRENT.reset(token)


def current_admission() -> Admission | None:
    """The current RPC's verdict, or None outside a gateway-wrapped handler."""
    return _CURRENT.get()


def admitted() -> Principal:
    """The verified principal of the current RPC.

    Returns:
        The principal the gateway authenticated (rate limit and size checks passed).

    Raises:
        AespError: The gateway's refusal (``AUTHENTICATION_FAILED``, ``INVALID_CREDENTIALS``,
            ``RATE_LIMIT_EXCEEDED``, ``MESSAGE_TOO_LARGE``, ...), already audited; or
            ``INTERNAL_ERROR`` when no gateway ran for this call, so a servicer registered
            without the gateway fails closed instead of serving an unauthenticated caller.
    """
    verdict = _CURRENT.get()
    if verdict is None:
        raise ExecutionError(
            "INTERNAL_ERROR",
            "The Host could not authenticate this call (its gateway is not installed).",
        )
    if verdict.error is not None:
        raise verdict.error
    if verdict.principal is None:  # an Admission is built with one or the other
        raise ExecutionError("INTERNAL_ERROR", "The gateway admitted a call without a principal.")
    return verdict.principal


def correlation_id(candidate: str = "") -> str:
    """The current RPC's correlation id: the gateway's, else ``candidate`` checked (item 105)."""
    verdict = _CURRENT.get()
    return verdict.correlation_id if verdict is not None else accept_correlation_id(candidate)

"""The checks and bookkeeping of one governed local execution, shared by sync and async.

Why: SPEC §2.12 says the client MUST "validate the invocation_id format, expiry and correlation
before executing" and that an authorisation is bound to one tool, one set of arguments and one
security context. These checks decide whether code runs on the caller's machine, so they are
written once, as numbered steps, and both :mod:`aesp.client.governed` classes call them.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from aesp.adm import AdmError, FunctionCall, ToolResult, content_digest
from aesp.client import _wire
from aesp.client.errors import (
    AuthorizationExpired,
    InvalidAuthorization,
    ProtocolError,
    TamperDetected,
    build_enhanced_error,
)
from aesp.client.models import Authorization, CallResult
from aesp.later import Executor, ToolRegistry
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

MAX_REMEMBERED_INVOCATIONS: Final = 10_000  # bounds memory; SPEC §2.12 concurrent auths cap
_INVOCATION_ID: Final = re.compile(r"[\x21-\x7E]{1,128}\Z")


def as_executor(local: Executor | ToolRegistry) -> Executor:
    """The LATER executor for an executor or a registry."""
    return local if isinstance(local, Executor) else Executor(local)


def check_authorization(auth: Authorization, *, now: float) -> None:
    """Refuse to execute unless ``auth`` is a live approval bound to exactly this call.

    Steps (SPEC §2.12 client MUSTs, F6 step 6, items 117, 118, 127):
    (1) the invocation id is present and well-formed, and the TTL is positive (C-15);
    (2) the Host's argument hash equals the hash of the arguments about to run (tamper check);
    (3) the authorisation has not expired (never execute after the TTL; re-authorise instead).

    Raises:
        InvalidAuthorization: No (or a malformed) invocation id, or no TTL.
        TamperDetected: No argument hash, or a different one.
        AuthorizationExpired: The TTL has run out.
    """
    cid = auth.correlation_id
    # (1): "treat an authorization as APPROVED only if invocation_id is non-empty and TTL > 0";
    # "validate the invocation_id format" (printable ASCII, at most 128 characters)
    if not _INVOCATION_ID.match(auth.invocation_id) or auth.ttl_ms <= 0:
        raise InvalidAuthorization(
            build_enhanced_error(
                "PROTOCOL_VIOLATION",
                "The authorisation has no valid invocation id or no TTL; it does not allow "
                "execution.",
                correlation_id=cid,
                details={"reason": "INCOMPLETE_APPROVAL"},
            ),
            origin="client",
        )
    # (2): "the arguments are hashed at authorization and checked again at audit"
    try:
        local_hash = content_digest(auth.args)
    except AdmError:
        local_hash = ""
    if not auth.args_sha256 or local_hash != auth.args_sha256:
        raise TamperDetected(
            build_enhanced_error(
                "PROTOCOL_VIOLATION",
                f"The authorisation for '{auth.name}' is not bound to these arguments (expected "
                f"{auth.args_sha256 or 'a hash'}, got {local_hash}); nothing was executed.",
                correlation_id=cid,
                details={"reason": "ARGS_DIGEST_MISMATCH", "invocation_id": auth.invocation_id},
            ),
            origin="client",
        )
    # (3): "respect the TTL"
    if auth.expired(now):
        raise AuthorizationExpired(
            build_enhanced_error(
                "INVALID_STATE",
                f"The authorisation for '{auth.name}' expired before execution; authorise again.",
                correlation_id=cid,
                details={"invocation_id": auth.invocation_id},
            ),
            origin="client",
        )


class UsedInvocations:
    """Invocation ids this client already executed: an authorisation is single-use (item 121)."""

    def __init__(self, limit: int = MAX_REMEMBERED_INVOCATIONS) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def claim(self, auth: Authorization) -> None:
        """Mark ``auth`` as used.

        Raises:
            ProtocolError: ``INVALID_STATE`` if it was already executed here.
        """
        if auth.invocation_id in self._seen:
            raise ProtocolError(
                build_enhanced_error(
                    "INVALID_STATE",
                    f"Invocation {auth.invocation_id} was already executed; an authorisation "
                    "allows one execution. Authorise again.",
                    correlation_id=auth.correlation_id,
                    details={"reason": "REPLAY"},
                ),
                origin="client",
            )
        self._seen[auth.invocation_id] = None
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)


def function_call(auth: Authorization) -> FunctionCall:
    """The ADM call the authorisation allows."""
    return FunctionCall(call_id=auth.call_id, name=auth.name, args=dict(auth.args))


@dataclass(frozen=True)
class Finished:
    """A local execution ready to return and to log."""

    result: CallResult
    log: _grid_pb2.LogToolResultRequest


def finish(auth: Authorization, result: ToolResult, started: float) -> Finished:
    """The caller's result and the log request (F6 steps 6-7) for a finished execution.

    Args:
        auth: The authorisation executed.
        result: LATER's result.
        started: ``time.perf_counter()`` when execution began.
    """
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    request = _wire.log_request(
        auth,
        result,
        execution_time_ms=elapsed_ms,
        finished_at_ms=None,
        execution_metadata={"execution_mode": "governed_local", "executor": "later"},
    )
    call_result = _wire.local_call_result(
        result, invocation_id=auth.invocation_id, correlation_id=auth.correlation_id
    )
    return Finished(call_result, request)

"""Deliver governed-local log records in the background, with retries (items 124, 125).

Why: F6 step 7 says the result log is sent *asynchronously*: the user gets the tool's result
before the Host acknowledges the log (item 124), and a log that fails is kept and retried with
exponential backoff until accepted (item 125). :class:`AsyncLogSender` does this with one asyncio
task, :class:`LogSender` with one daemon thread (so the sync client never runs an event loop).
Both keep their records in an :class:`~aesp.client.audit_buffer.AuditBuffer`.

A failure is retried unless the Host itself refused the record for good (replayed, mismatched,
foreign or late invocation id: ``retry_allowed`` false); such records move to ``rejected()``.
Transport failures, an open client breaker and Host-side transient errors are retried.

Test and failover hook: ``retarget(client)`` points the sender at another client (e.g. first a
client of a dead address, then the live Host; or an alternative Host endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from aesp.client.audit_buffer import (
    AuditBuffer,
    AuditRetryPolicy,
    Entry,
    PendingLog,
    RejectedLog,
    is_definitive,
)
from aesp.client.errors import AespClientError, make_error
from aesp.client.models import LogReceipt
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

__all__ = ["AsyncLogSender", "AsyncLogTarget", "LogSender", "SyncLogTarget"]

_LOG = logging.getLogger("aesp.client.audit")
_Request = _grid_pb2.LogToolResultRequest


class AsyncLogTarget(Protocol):
    """Anything that sends one LogToolResult request (an ``AsyncClient``)."""

    async def send_log(self, request: _Request) -> LogReceipt:
        """Send ``request``; return the receipt or raise an ``AespClientError``."""
        ...


class SyncLogTarget(Protocol):
    """Anything that sends one LogToolResult request synchronously (a ``Client``)."""

    def send_log(self, request: _Request) -> LogReceipt:
        """Send ``request``; return the receipt or raise an ``AespClientError``."""
        ...


def _settle(buffer: AuditBuffer, entry: Entry, error: AespClientError | None) -> None:
    """Record the outcome of one attempt."""
    if error is None:
        buffer.acknowledge(entry)
    elif is_definitive(error):
        buffer.reject(entry, error)
    else:
        buffer.fail(entry, error)


def _unexpected(exc: Exception, request: _Request) -> AespClientError:
    _LOG.exception("sending the log of %s failed unexpectedly", request.invocation_id)
    return make_error(
        "INTERNAL_ERROR",
        f"Sending the log failed unexpectedly: {type(exc).__name__}: {exc}",
        correlation_id=request.correlation_id,
    )


class AsyncLogSender:
    """Background delivery of log records on the running event loop.

    Args:
        target: The client that sends the records.
        policy: Retry and buffer settings (SPEC §2.10 defaults).
        clock: Monotonic clock in seconds.
        rand: Jitter source in [0, 1).
    """

    def __init__(
        self,
        target: AsyncLogTarget,
        *,
        policy: AuditRetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._target = target
        self._buffer = AuditBuffer(policy, clock=clock, rand=rand)
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def submit(self, request: _Request) -> None:
        """Queue a record and return at once; the background task sends it (item 124).

        Raises:
            RuntimeError: After :meth:`close`, or when no event loop is running.
        """
        if self._closed:
            raise RuntimeError("the log sender is closed")
        self._buffer.add(request)
        wake, _ = self._primitives()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        wake.set()

    def pending(self) -> tuple[PendingLog, ...]:
        """Records not yet acknowledged, oldest first."""
        return self._buffer.snapshot()

    def rejected(self) -> tuple[RejectedLog, ...]:
        """Records the Host refused for good (most recent 100)."""
        return self._buffer.rejected()

    def retarget(self, target: AsyncLogTarget) -> None:
        """Send future attempts through ``target`` (test hook and Host failover)."""
        self._target = target

    async def flush(self) -> int:
        """Try every pending record now, ignoring backoff (parked ones too).

        Returns:
            How many records are still pending afterwards.
        """
        _, lock = self._primitives()
        async with lock:
            for entry in self._buffer.entries():
                await self._attempt(entry)
        return len(self._buffer)

    async def close(self, *, flush: bool = True) -> None:
        """Stop the background task; with ``flush``, make one last bounded delivery attempt."""
        self._closed = True
        if self._task is not None:
            _, lock = self._primitives()
            async with lock:  # never cut a send short: its outcome would be unknown
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if flush and len(self._buffer):
            timeout = self._buffer.policy.audit_timeout_ms / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), timeout)
        if len(self._buffer):
            _LOG.warning("%d governed-local log records were not delivered", len(self._buffer))

    def _primitives(self) -> tuple[asyncio.Event, asyncio.Lock]:
        if self._wake is None or self._lock is None:
            self._wake, self._lock = asyncio.Event(), asyncio.Lock()
        return self._wake, self._lock

    async def _run(self) -> None:
        wake, lock = self._primitives()
        while True:
            wait = self._buffer.next_due_in()
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), wait)
                wake.clear()
                continue
            async with lock:
                for entry in self._buffer.due():
                    await self._attempt(entry)

    async def _attempt(self, entry: Entry) -> None:
        error: AespClientError | None = None
        try:
            await self._target.send_log(entry.request)
        except AespClientError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - the worker must survive any failure
            error = _unexpected(exc, entry.request)
        _settle(self._buffer, entry, error)


class LogSender:
    """Background delivery of log records on a daemon thread (for the sync client).

    Args:
        target: The client that sends the records.
        policy: Retry and buffer settings (SPEC §2.10 defaults).
        clock: Monotonic clock in seconds.
        rand: Jitter source in [0, 1).
    """

    def __init__(
        self,
        target: SyncLogTarget,
        *,
        policy: AuditRetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._target = target
        self._buffer = AuditBuffer(policy, clock=clock, rand=rand)
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, request: _Request) -> None:
        """Queue a record and return at once; the background thread sends it (item 124).

        Raises:
            RuntimeError: After :meth:`close`.
        """
        with self._cond:
            if self._closed:
                raise RuntimeError("the log sender is closed")
            self._buffer.add(request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="aesp-audit-log-sender", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def pending(self) -> tuple[PendingLog, ...]:
        """Records not yet acknowledged, oldest first."""
        return self._buffer.snapshot()

    def rejected(self) -> tuple[RejectedLog, ...]:
        """Records the Host refused for good (most recent 100)."""
        return self._buffer.rejected()

    def retarget(self, target: SyncLogTarget) -> None:
        """Send future attempts through ``target`` (test hook and Host failover)."""
        self._target = target

    def flush(self) -> int:
        """Try every pending record now, ignoring backoff (parked ones too).

        Returns:
            How many records are still pending afterwards.
        """
        with self._send_lock:
            for entry in self._buffer.entries():
                self._attempt(entry)
        return len(self._buffer)

    def close(self, *, flush: bool = True) -> None:
        """Stop the thread; with ``flush``, make one last delivery attempt."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._buffer.policy.audit_timeout_ms / 1000 + 1)
        if flush and len(self._buffer):
            self.flush()
        if len(self._buffer):
            _LOG.warning("%d governed-local log records were not delivered", len(self._buffer))

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                wait = self._buffer.next_due_in()
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
            with self._send_lock:
                for entry in self._buffer.due():
                    self._attempt(entry)

    def _attempt(self, entry: Entry) -> None:
        error: AespClientError | None = None
        try:
            self._target.send_log(entry.request)
        except AespClientError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - the worker must survive any failure
            error = _unexpected(exc, entry.request)
        _settle(self._buffer, entry, error)

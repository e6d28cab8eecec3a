"""The Runtimes of every Host replica, through the State port (DESIGN §10).

A Runtime holds a stream to one Host replica and serves the calls that replica routes to it.
Each replica publishes the Runtime connections it holds (which tools each fulfils for its whole
tenant) to the State port, re-publishing before the records expire, so a replica that dies
leaves nothing behind for long. The others read them in the background. The call path never
waits on the store: when no Runtime connected to this replica fulfils a tool, the refusal says
whether Runtimes of the caller's tenant serve it on other replicas (from the last read), so an
operator knows to connect Runtimes to every replica rather than to look for a missing tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aesp.core import ids
from aesp.core.errors import AespError, ExecutionError
from aesp.core.ports.state import RuntimeRecord, StateStore
from aesp.core.runtimes import RuntimeRegistry

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 5.0  # how often this replica re-publishes its connections
RECORD_TTL_MS = 15_000  # a record outlives three missed publications, then expires
READ_INTERVAL_MS = 5_000  # how stale another replica's records may be before a re-read


class RuntimeDirectory:
    """Publishes this replica's Runtime connections and caches the other replicas'.

    Args:
        state: The State port (shared by the replicas).
        registry: This replica's Runtime connections.
        host_id: This replica's id in the records (a fresh one per process by default).
    """

    def __init__(self, state: StateStore, registry: RuntimeRegistry, host_id: str = "") -> None:
        self.host_id = host_id or f"host-{ids.invocation_id()[4:16]}"
        self._state = state
        self._registry = registry
        self._published: set[str] = set()  # connection ids this replica has records for
        self._others: dict[str, tuple[int, Sequence[RuntimeRecord]]] = {}  # tenant -> read
        self._reading: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Publish now and every :data:`PUBLISH_INTERVAL_S` from now on."""
        self._loop_task = asyncio.create_task(self._publish_loop())

    async def stop(self) -> None:
        """Stop publishing and withdraw this replica's records (best effort)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        for connection_id in sorted(self._published):
            with contextlib.suppress(AespError):
                await self._state.delete_runtime(connection_id)
        self._published.clear()

    async def publish(self) -> None:
        """Store a record for each connection fulfilling tools for its tenant; withdraw the
        records of connections that are gone or fulfil nothing any more."""
        expires = ids.now_ms() + RECORD_TTL_MS
        current: set[str] = set()
        for conn in self._registry.connections():
            tools = tuple(sorted({name for key, name in conn.fulfilled if key == ""}))
            if not tools:
                continue
            record = RuntimeRecord(
                connection_id=conn.connection_id,
                runtime_id=conn.runtime_id,
                tenant_id=conn.tenant_id,
                host_id=self.host_id,
                tools=tools,
                expires_at_ms=expires,
            )
            await self._state.put_runtime(record)
            current.add(conn.connection_id)
        for gone in sorted(self._published - current):
            await self._state.delete_runtime(gone)
        self._published = current

    def elsewhere(self, tenant_id: str, tool: str) -> list[RuntimeRecord]:
        """Live records of other replicas' Runtimes of ``tenant_id`` fulfilling ``tool``.

        Answers from the last read and never waits: a stale or missing read starts a new one
        in the background (so the first refusal for a tenant may not know yet).
        """
        now = ids.now_ms()
        read = self._others.get(tenant_id)
        if (read is None or now - read[0] >= READ_INTERVAL_MS) and tenant_id not in self._reading:
            self._reading.add(tenant_id)
            task = asyncio.get_running_loop().create_task(self._read(tenant_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        records = read[1] if read is not None else ()
        return [
            r
            for r in records
            if r.host_id != self.host_id and tool in r.tools and r.expires_at_ms > now
        ]

    async def _read(self, tenant_id: str) -> None:
        try:
            records = await self._state.runtimes(tenant_id, now_ms=ids.now_ms())
            self._others[tenant_id] = (ids.now_ms(), tuple(records))
        except AespError as exc:
            log.warning("reading the Runtimes of other Host replicas failed: %s", exc)
        finally:
            self._reading.discard(tenant_id)

    async def _publish_loop(self) -> None:
        while True:
            try:
                await self.publish()
            except AespError as exc:  # the store is away: records expire, others learn it
                log.warning("publishing this Host's Runtimes failed: %s", exc)
            await asyncio.sleep(PUBLISH_INTERVAL_S)


def refusal(tool: str, others: list[RuntimeRecord]) -> ExecutionError:
    """``UNSUPPORTED_TOOL`` for a tool only other replicas' Runtimes fulfil, saying so."""
    hosts = ", ".join(sorted({r.host_id for r in others}))
    return ExecutionError(
        "UNSUPPORTED_TOOL",
        f"No runtime connected to this Host replica fulfils '{tool}'; {len(others)} runtime "
        f"connection(s) of your tenant fulfil it on other replicas ({hosts}). Connect your "
        "runtimes to every Host replica, or retry: another replica may serve the call.",
        details={"reason": "FULFILLED_ON_OTHER_REPLICAS", "replicas": hosts},
        retry_after_ms=1000,
    )

"""One place that makes boto3 clients and runs their blocking calls off the event loop.

boto3 is synchronous; every adapter method is a coroutine, so each AWS call runs in a worker
thread. Each :class:`Aws` has its own small thread pool rather than the event loop's shared
default one: the plugin opens one per port, so a port whose background sync is slow (IAM,
Identity Center) never makes another port's call wait for a thread (a rate-limit lease fetched
on the call path, say). Clients are thread-safe once made; making them is not, so :class:`Aws`
makes each one once, under a lock.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from aesp_aws.settings import AwsSettings

WORKERS = 4  # threads per Aws object (per port): AWS calls in flight at once

# Short timeouts and few retries: adapters run off the call path, and a Host that cannot reach
# AWS must notice within seconds (its snapshots keep serving; DESIGN §2 principle 2).
_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
)


class Aws:
    """boto3 clients for one :class:`AwsSettings`, shared by the adapters of one Host."""

    def __init__(self, settings: AwsSettings, *, session: boto3.session.Session | None = None):
        self.settings = settings
        self._session = session or boto3.session.Session(region_name=settings.region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="aesp-aws")

    def client(self, service: str) -> Any:
        """The boto3 client of ``service`` (``"dynamodb"``, ``"kms"``, ...), made once."""
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._session.client(
                        service,
                        region_name=self.settings.region,
                        endpoint_url=self.settings.endpoint(service),
                        config=_CLIENT_CONFIG,
                    )
                    self._clients[service] = client
        return client

    async def call(self, service: str, operation: str, /, **kwargs: Any) -> Any:
        """Run ``client(service).<operation>(**kwargs)`` in a worker thread and return its reply."""
        return await self.run(getattr(self.client(service), operation), **kwargs)

    async def run(self, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Run any blocking boto3 work (a paginator, a waiter) on this object's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        """Close every client's connection pool and stop the threads (calls in flight finish)."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        self._pool.shutdown(wait=False)


def error_code(exc: BaseException) -> str:
    """The AWS error code of ``exc`` (``"ConditionalCheckFailedException"``), or ``""``."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says AWS could not be reached or failed (not a refusal of the request)."""
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status or 0) >= 500
    return False

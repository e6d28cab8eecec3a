"""The in-memory Identity store passes the same conformance kit as the real adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aesp.testing.conformance.identity import (
    AbstractIdentityStoreConformance,
    principal,
    service_account,
)
from aesp.testing.inmemory import InMemoryIdentityStore


class TestInMemoryIdentityStore(AbstractIdentityStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryIdentityStore]:
        store = InMemoryIdentityStore()
        yield store
        await store.close()


async def test_inspection_helpers_show_everything_stored() -> None:
    store = InMemoryIdentityStore()
    account, record = service_account("sa1")
    await store.put_principal(principal("u1"))
    await store.create_service_account(account, record)
    assert set(store.principals()) == {"u1", record.principal_id}
    assert store.service_accounts() == {"sa1": account}

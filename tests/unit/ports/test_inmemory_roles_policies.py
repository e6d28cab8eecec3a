"""The in-memory RoleStore and PolicyStore pass the same conformance kits as the real adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aesp.core.ports.policy import StoredPolicy
from aesp.testing.conformance.policy import AbstractPolicyStoreConformance, policy
from aesp.testing.conformance.rbac import AbstractRoleStoreConformance
from aesp.testing.inmemory import InMemoryPolicyStore, InMemoryRoleStore


class TestInMemoryRoleStore(AbstractRoleStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryRoleStore]:
        store = InMemoryRoleStore()
        yield store
        await store.close()


class TestInMemoryPolicyStore(AbstractPolicyStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryPolicyStore]:
        store = InMemoryPolicyStore()
        yield store
        await store.close()


@pytest.mark.parametrize("cursor", ["nonsense", '["only-one"]', "[1, 2]", '{"a": "b"}'])
async def test_a_cursor_it_did_not_issue_is_refused(cursor: str) -> None:
    store = InMemoryPolicyStore()
    with pytest.raises(ValueError, match="was not returned by list_latest"):
        await store.list_latest(tenant_id=None, cursor=cursor)


async def test_stored_lists_every_version_in_write_order_with_the_current_flag() -> None:
    store = InMemoryPolicyStore()
    first = await store.add_version(policy("p", "2.0.0"), created_by="a", at_ms=1)
    second = await store.add_version(policy("q", "1.0.0"), created_by="a", at_ms=2)
    third = await store.add_version(policy("p", "1.0.0"), created_by="a", at_ms=3)
    await store.delete("acme", "q", at_ms=4)
    assert store.stored() == [
        first,
        StoredPolicy(second.definition, second.revision, 2, "a", deleted=True),
        third,
    ]

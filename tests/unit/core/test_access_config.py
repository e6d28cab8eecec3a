"""``[access]`` parsing: roles, group mappings and levels are checked at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from aesp.core.access import AccessConfig, parse_access
from aesp.core.errors import ConfigurationError
from aesp.core.rbac import RoleDefinition


def test_a_full_table_parses() -> None:
    access = parse_access(
        {
            "default_clearance": "internal",
            "refresh_interval_ms": 500,
            "group_roles": {"aesp-admins": ["admin"], "certificate:client": ["user"]},
            "group_clearance": {"aesp-admins": "restricted"},
            "roles": [
                {"name": "user", "permissions": ["tool:*:invoke"]},
                {"name": "admin", "permissions": ["aesp:*:*"], "parents": ["user"]},
                {"name": "local", "permissions": ["tool:x:invoke"], "tenant": "acme"},
            ],
        }
    )
    assert access == AccessConfig(
        roles=(
            RoleDefinition("user", ("tool:*:invoke",)),
            RoleDefinition("admin", ("aesp:*:*",), ("user",)),
            RoleDefinition("local", ("tool:x:invoke",), tenant_id="acme"),
        ),
        group_roles={"aesp-admins": ("admin",), "certificate:client": ("user",)},
        group_clearance={"aesp-admins": "RESTRICTED"},
        default_clearance="INTERNAL",
        refresh_interval_ms=500,
    )


def test_empty_table_grants_nothing() -> None:
    assert parse_access({}) == AccessConfig()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rolez": []}, r"'access.rolez' is not a setting"),
        ({"roles": {"name": "x"}}, r"array of tables"),
        ({"roles": [{"name": "a", "parents": ["a"]}]}, r"cycle: a -> a"),
        ({"roles": [{"name": "a", "parents": ["nobody"]}]}, r"valid hierarchy"),
        ({"roles": [{"name": "a", "permissions": ["tool:x"]}]}, r"valid hierarchy"),
        ({"roles": [{"name": "a", "scope": "x"}]}, r"roles\[0\].scope' is not a setting"),
        ({"roles": [{"permissions": []}]}, r"roles\[0\].name"),
        ({"group_roles": {"g": "admin"}}, r"group_roles.g' must be a list"),
        ({"group_clearance": {"g": "SECRET"}}, r"must be one of PUBLIC"),
        ({"default_clearance": 3}, r"default_clearance"),
        ({"refresh_interval_ms": 0}, r"positive integer"),
    ],
)
def test_bad_tables_are_refused_naming_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_access(raw)
    assert info.value.code == "INVALID_CONFIG"

"""RBAC decisions: wildcards, default deny, C-32 contract checks (items 155, 156, 158)."""

from __future__ import annotations

import pytest

from aesp.core.contracts import ToolContract
from aesp.core.errors import AuthorizationError
from aesp.core.rbac import (
    Decision,
    RbacSnapshot,
    RbacSubject,
    RoleDefinition,
    classification_rank,
    parse_permission,
    permission_covers,
)

# ---------------------------------------------------------------- wildcard matching


@pytest.mark.parametrize(
    ("grant", "wanted", "covers"),
    [
        ("tool:search:invoke", "tool:search:invoke", True),
        ("tool:*:invoke", "tool:search:invoke", True),
        ("tool:*:invoke", "tool:a:b:invoke", False),  # four segments name nothing
        ("tool:*:invoke", "tool:search:read", False),
        ("aesp:governance:*", "aesp:governance:approve", True),
        ("aesp:governance:*", "aesp:policy:approve", False),
        ("*:*:*", "anything:at:all", True),
        ("*:*:*", "tool:search", False),  # malformed request
        ("*", "tool:search:invoke", False),  # '*' alone is not a permission
        ("tool:*:invoke", "tool::invoke", False),  # empty segment
        ("tool:*:invoke", "", False),
        ("tool:Search:invoke", "tool:search:invoke", False),  # case-sensitive, like tool names
        ("TOOL:*:INVOKE", "tool:search:invoke", False),
        ("tool:*:invoke", "tool:*:invoke", True),  # a wildcard request needs a wildcard grant
        ("tool:search:invoke", "tool:*:invoke", False),
        ("tool:get_*:invoke", "tool:get_x:invoke", False),  # no partial wildcards
    ],
)
def test_wildcard_edges(grant: str, wanted: str, covers: bool) -> None:
    assert permission_covers(grant, wanted) is covers


@pytest.mark.parametrize(
    "text", ["", "*", "a:b", "a:b:c:d", "a::c", ":b:c", "a:b:", "a:b c:d", "a:b*:c"]
)
def test_parse_permission_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="must be <resource>:<name>:<action>"):
        parse_permission(text)


def test_wildcard_decisions_name_the_granting_role_and_are_cached_consistently() -> None:
    s = RbacSnapshot.build(
        [RoleDefinition("ops", ("tool:*:invoke", "ops:*:*"))], {"p": ("ops",)}, version=1
    )
    for _ in range(3):  # the second and third answers come from the per-snapshot LRU
        d = s.decide("p", tenant_id="t", permission="tool:deploy:invoke")
        assert d == Decision(True, "", "'tool:deploy:invoke' granted", "role ops: tool:*:invoke")
    bad = s.decide("p", tenant_id="t", permission="tool:a:b:invoke")
    assert (bad.allowed, bad.code, bad.subcode) == (
        False,
        "PERMISSION_DENIED",
        "INSUFFICIENT_PERMISSIONS",
    )


# ---------------------------------------------------------------- contracts (C-32)


ROLES = [
    RoleDefinition("viewer", ("tool:get_weather:invoke",)),
    RoleDefinition("analyst", ("tool:*:invoke", "data:reports:read"), ("viewer",)),
    RoleDefinition("senior-analyst", ("data:pii:read",), ("analyst",)),
    RoleDefinition("contractor", ("tool:search:invoke",)),
]
SNAPSHOT = RbacSnapshot.build(
    ROLES,
    {
        "alice": ("senior-analyst",),
        "bob": ("analyst",),
        "carol": ("viewer",),
        "dave": ("contractor",),
        "erin": (),
    },
    version=7,
)


def contract(
    name: str = "search",
    *,
    roles: tuple[str, ...] = (),
    permissions: tuple[str, ...] = (),
    classification: str = "INTERNAL",
) -> ToolContract:
    return ToolContract(
        name=name,
        contract_version="1.0.0",
        description="d",
        parameters={"type": "OBJECT", "properties": {}},
        security_classification=classification,
        required_roles=roles,
        required_permissions=permissions,
    )


def subject(pid: str, clearance: str = "RESTRICTED", data: str = "RESTRICTED") -> RbacSubject:
    return RbacSubject(pid, "acme", security_clearance=clearance, data_classification=data)


@pytest.mark.parametrize(
    ("who", "tool", "code", "subcode", "rule"),
    [
        # Item 155: default deny without a tool:<name>:invoke grant, even with no requirements.
        (
            "carol",
            contract("search"),
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "default-deny",
        ),
        (
            "nobody",
            contract("search"),
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "default-deny",
        ),
        (
            "erin",
            contract("search"),
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "default-deny",
        ),
        # Item 156: every required permission (all-of).
        (
            "bob",
            contract(permissions=("data:reports:read", "data:pii:read")),
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "default-deny",
        ),
        # Item 156: at least one required role (any-of).
        (
            "dave",
            contract(roles=("analyst", "auditor")),
            "PERMISSION_DENIED",
            "ROLE_REQUIRED",
            "required_roles",
        ),
        # A malformed required permission can never be satisfied.
        (
            "alice",
            contract(permissions=("data:pii",)),
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "default-deny",
        ),
    ],
)
def test_contract_denials(who: str, tool: ToolContract, code: str, subcode: str, rule: str) -> None:
    decision = SNAPSHOT.check_contract(subject(who), tool)
    assert (decision.allowed, decision.code, decision.subcode, decision.matched_rule) == (
        False,
        code,
        subcode,
        rule,
    )
    with pytest.raises(AuthorizationError, match=code) as info:
        decision.raise_if_denied()
    assert info.value.details["reason"] == subcode


@pytest.mark.parametrize(
    ("who", "tool"),
    [
        ("bob", contract()),  # no requirements: the invoke grant suffices
        ("bob", contract(permissions=("data:reports:read",))),
        ("alice", contract(permissions=("data:reports:read", "data:pii:read"))),  # inherited + own
        ("bob", contract(roles=("auditor", "analyst"))),  # any-of
        # Decision: a descendant role satisfies required_roles naming its ancestor.
        ("alice", contract(roles=("analyst",))),
        ("alice", contract(roles=("viewer",))),
        ("dave", contract("search", roles=("contractor",))),
    ],
)
def test_contract_allows(who: str, tool: ToolContract) -> None:
    decision = SNAPSHOT.check_contract(subject(who), tool)
    assert decision.allowed, decision.reason
    assert decision.code == ""
    assert decision.matched_rule.startswith("role ")
    decision.raise_if_denied()


def test_empty_role_set_denies_even_with_a_roles_free_contract() -> None:
    decision = SNAPSHOT.check_contract(subject("erin"), contract())
    assert decision.code == "PERMISSION_DENIED"
    assert "holds no role in tenant 'acme'" in decision.reason


# ---------------------------------------------------------------- clearance and classification (item 158)


@pytest.mark.parametrize(
    ("level", "clearance", "data", "code"),
    [
        ("PUBLIC", "PUBLIC", "PUBLIC", ""),
        ("INTERNAL", "internal", "Internal", ""),  # case-insensitive (C-32)
        ("CONFIDENTIAL", "RESTRICTED", "CONFIDENTIAL", ""),
        ("RESTRICTED", "RESTRICTED", "RESTRICTED", ""),
        ("INTERNAL", "PUBLIC", "RESTRICTED", "SECURITY_CLEARANCE_INSUFFICIENT"),
        ("RESTRICTED", "CONFIDENTIAL", "RESTRICTED", "SECURITY_CLEARANCE_INSUFFICIENT"),
        ("CONFIDENTIAL", "RESTRICTED", "INTERNAL", "DATA_CLASSIFICATION_MISMATCH"),
        (
            "INTERNAL",
            "TOP_SECRET",
            "RESTRICTED",
            "SECURITY_CLEARANCE_INSUFFICIENT",
        ),  # unknown level
        ("INTERNAL", "", "RESTRICTED", "SECURITY_CLEARANCE_INSUFFICIENT"),  # unset
        ("INTERNAL", "RESTRICTED", "", "DATA_CLASSIFICATION_MISMATCH"),
        (
            "SECRET",
            "RESTRICTED",
            "RESTRICTED",
            "SECURITY_CLEARANCE_INSUFFICIENT",
        ),  # unknown contract level
        ("PUBLIC", "PUBLIC", "PII", "DATA_CLASSIFICATION_MISMATCH"),  # a category is not a level
    ],
)
def test_item_158_clearance_then_classification(
    level: str, clearance: str, data: str, code: str
) -> None:
    decision = SNAPSHOT.check_contract(
        subject("bob", clearance, data), contract(classification=level)
    )
    assert decision.allowed is (code == "")
    assert decision.code == code
    if code:
        with pytest.raises(AuthorizationError, match=code):
            decision.raise_if_denied()


def test_rbac_is_checked_before_clearance() -> None:
    """SPEC §3.19 step 5: PERMISSION_DENIED wins over a clearance problem."""
    decision = SNAPSHOT.check_contract(
        subject("carol", "PUBLIC"), contract(classification="RESTRICTED")
    )
    assert decision.code == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("level", "rank"),
    [
        ("PUBLIC", 0),
        ("internal", 1),
        ("Confidential", 2),
        ("RESTRICTED", 3),
        ("SECRET", None),
        ("", None),
    ],
)
def test_classification_ranks(level: str, rank: int | None) -> None:
    assert classification_rank(level) == rank


def test_subject_tenant_scopes_the_contract_check() -> None:
    s = RbacSnapshot.build(
        [RoleDefinition("analyst", ("tool:*:invoke",), tenant_id="acme")],
        {"p": ("analyst",)},
        version=1,
    )
    acme = s.check_contract(
        RbacSubject("p", "acme", "PUBLIC", "PUBLIC"), contract(classification="PUBLIC")
    )
    globex = s.check_contract(
        RbacSubject("p", "globex", "PUBLIC", "PUBLIC"), contract(classification="PUBLIC")
    )
    assert acme.allowed
    assert (globex.allowed, globex.code) == (False, "PERMISSION_DENIED")

"""Explicit denials (``RoleDefinition.denied``): deny > grant > default deny, inherited."""

from __future__ import annotations

import pytest

from aesp.core.contracts import ToolContract
from aesp.core.rbac import RbacSnapshot, RbacSubject, RoleDefinition

SEARCH = "tool:search:invoke"


def _snapshot(*roles: RoleDefinition, held: tuple[str, ...]) -> RbacSnapshot:
    return RbacSnapshot.build(roles, {"p": held}, version=1)


@pytest.mark.parametrize(
    ("denied", "wanted", "allowed"),
    [
        ("tool:search:invoke", "tool:search:invoke", False),
        ("tool:*:invoke", "tool:search:invoke", False),
        ("*:*:*", "tool:search:invoke", False),
        ("tool:export:invoke", "tool:search:invoke", True),  # a denial elsewhere changes nothing
        ("tool:search:read", "tool:search:invoke", True),
        ("tool:Search:invoke", "tool:search:invoke", True),  # case-sensitive, like grants
        ("aesp:gov:Approve", "aesp:gov:*", False),  # overlap: not all of aesp:gov:* is held
        ("aesp:gov:*", "aesp:gov:Approve", False),
        ("aesp:gov:Approve", "aesp:gov:Reject", True),
    ],
)
def test_a_denial_beats_a_wildcard_grant_in_the_same_role(
    denied: str, wanted: str, allowed: bool
) -> None:
    s = _snapshot(RoleDefinition("r", ("*:*:*",), denied=(denied,)), held=("r",))
    d = s.decide("p", tenant_id="t", permission=wanted)
    assert d.allowed is allowed
    if not allowed:
        assert (d.code, d.matched_rule) == ("PERMISSION_DENIED", f"role r: deny {denied}")
        assert d.details["reason"] == "INSUFFICIENT_PERMISSIONS"


def test_a_denial_from_another_role_beats_a_grant() -> None:
    s = _snapshot(
        RoleDefinition("analyst", (SEARCH,)),
        RoleDefinition("quarantine", denied=("tool:*:invoke",)),
        held=("analyst", "quarantine"),
    )
    d = s.decide("p", tenant_id="t", permission=SEARCH)
    assert not d.allowed and "explicitly denied" in d.reason
    assert d.matched_rule == "role quarantine: deny tool:*:invoke"


def test_a_denial_is_inherited_from_a_parent_role() -> None:
    s = _snapshot(
        RoleDefinition("base", denied=(SEARCH,)),
        RoleDefinition("child", ("tool:*:invoke",), ("base",)),
        held=("child",),
    )
    assert not s.decide("p", tenant_id="t", permission=SEARCH).allowed
    assert s.decide("p", tenant_id="t", permission="tool:export:invoke").allowed
    assert SEARCH not in s.effective_permissions("p", tenant_id="t")  # grants only


def test_a_denial_reaches_contract_checks_and_required_permissions() -> None:
    s = _snapshot(
        RoleDefinition("r", ("tool:*:invoke", "data:*:read"), denied=("data:pii:read",)),
        held=("r",),
    )
    subject = RbacSubject("p", "t", "RESTRICTED", "RESTRICTED")
    plain = ToolContract(name="search", contract_version="1.0.0", description="d", parameters={})
    assert s.check_contract(subject, plain).allowed
    needs_pii = ToolContract(
        name="search",
        contract_version="1.0.0",
        description="d",
        parameters={},
        required_permissions=("data:pii:read",),
    )
    d = s.check_contract(subject, needs_pii)
    assert (d.allowed, d.matched_rule) == (False, "role r: deny data:pii:read")


def test_a_malformed_denial_is_rejected_when_building() -> None:
    with pytest.raises(ValueError, match="role acme/r: permission 'x' must be"):
        RbacSnapshot.build([RoleDefinition("r", denied=("x",), tenant_id="acme")], {}, version=1)


def test_without_denials_decisions_are_unchanged() -> None:
    s = _snapshot(RoleDefinition("r", (SEARCH,)), held=("r",))
    assert s.decide("p", tenant_id="t", permission=SEARCH).allowed
    assert not s.decide("p", tenant_id="t", permission="tool:x:invoke").allowed

"""Shared samples for the policy tests: contract schemas, definitions and activations."""

from __future__ import annotations

from typing import Any

from aesp.core.policy import (
    Activation,
    PolicyDefinition,
    ResourceFacts,
    SessionFacts,
    TenantFacts,
    UserFacts,
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "transfer": {
        "type": "OBJECT",
        "properties": {
            "amount": {"type": "INTEGER"},
            "currency": {"type": "STRING", "enum": ["EUR", "USD"]},
            "price": {"type": "NUMBER"},
            "note": {"type": "STRING"},
            "urgent": {"type": "BOOLEAN"},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "beneficiary": {
                "type": "OBJECT",
                "properties": {"iban": {"type": "STRING"}, "country": {"type": "STRING"}},
                "required": ["iban"],
            },
            "extra": {"type": "OBJECT", "properties": {}},
            "my-key": {"type": "STRING"},
        },
        "required": ["amount", "currency"],
    },
    "search": {
        "type": "OBJECT",
        "properties": {"q": {"type": "STRING"}, "amount": {"type": "INTEGER"}},
        "required": ["q"],
    },
    "weather": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]},
}


def policy(
    condition: str,
    *,
    policy_id: str = "p1",
    effect: str = "DENY",
    tenant_id: str = "acme",
    applies_to: tuple[str, ...] = ("transfer",),
    actions: tuple[str, ...] = (),
    version: str = "1.0.0",
    enabled: bool = True,
) -> PolicyDefinition:
    """A definition with sensible defaults."""
    return PolicyDefinition(
        policy_id=policy_id,
        name=f"name of {policy_id}",
        version=version,
        tenant_id=tenant_id,
        applies_to=applies_to,
        effect=effect,
        condition=condition,
        actions=actions,
        enabled=enabled,
    )


def activation(
    *,
    tenant: str = "acme",
    tool: str = "transfer",
    action: str = "invoke",
    args: dict[str, Any] | None = None,
    roles: tuple[str, ...] = ("analyst",),
    mfa: bool = True,
    time_ms: int = 1_700_000_000_000,  # 2023-11-14 22:13:20 UTC
    organization: dict[str, Any] | None = None,
    clearance: str = "CONFIDENTIAL",
    spending_limit: float = 100.0,
    estimated_cost: float = 1.5,
    risk: str = "LOW",
) -> Activation:
    """A C-33 activation built the way the pipeline builds it."""
    return Activation.build(
        time_ms=time_ms,
        source_ip="10.1.2.3",
        user=UserFacts(
            id="oidc|https://idp|alice",
            roles=roles,
            permissions=("tool:*:invoke",),
            security_clearance=clearance,
            data_classification="internal",
            mfa_verified=mfa,
            spending_limit=spending_limit,
        ),
        tenant=TenantFacts(id=tenant, cost_center="cc-1", business_unit="retail"),
        resource=ResourceFacts(
            name=tool,
            classification="confidential",
            risk=risk,
            compliance_tags=("PII",),
            estimated_cost=estimated_cost,
        ),
        action=action,
        args={"amount": 10, "currency": "EUR"} if args is None else args,
        session=SessionFacts(id="s-1", expires_at_ms=1_700_000_600_000),
        organization={"approved_cost_centers": ["cc-1"]} if organization is None else organization,
    )

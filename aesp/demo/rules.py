"""Steps 6 and 7 of ``aesp demo``: a policy and a budget, each approved by a second operator,
refuse the agent's calls (POLICY_VIOLATION, QUOTA_EXCEEDED).

Policy and budget changes of a tenant go to the approvers an approval workflow names (or, with
none, to the holders of a role that may approve in that tenant). The demo's operators belong to
tenant ``ops``, so bob first defines, for every tenant, workflows naming both operators with one
approval needed: either may approve the other's change, never his or her own.
"""

from __future__ import annotations

import json
from typing import Any

from aesp.demo.setup import (
    ALICE,
    BOB,
    BUDGET,
    ORDER,
    POLICY_LIMIT,
    PRICE_PER_CALL,
    TENANT,
    TOOL,
    Stage,
    approve,
    refused,
)
from aesp.demo.stage import aesp, detail, expect, note, request_id, say

POLICY_CONDITION = f"double(request.args.amount) > {POLICY_LIMIT}.0"


def _channel(stage: Stage, name: str) -> Any:
    """A gRPC channel to the Host's client port with ``name``'s client certificate."""
    import grpc

    from aesp.client._channel import credentials

    return grpc.secure_channel(stage.target, credentials(*stage.pems(name)))


def define_workflows(stage: Stage) -> None:
    """Bob routes every tenant's policy and budget changes to alice or bob."""
    from aesp.proto.altar.aesp.v1 import governance_pb2, governance_pb2_grpc

    with _channel(stage, "bob") as channel:
        stub = governance_pb2_grpc.EnterpriseGovernanceServiceStub(channel)
        for kind in ("POLICY_V1", "BUDGET_V1"):
            workflow = governance_pb2.ApprovalWorkflow(
                artifact_type=kind,
                required_approvers=[ALICE, BOB],
                min_approvals=1,
                name=f"{kind}: one platform operator",
            )
            answer = stub.CreateApprovalWorkflow(
                governance_pb2.CreateApprovalWorkflowRequest(workflow=workflow, tenant_id="*")
            )
            expect(answer.HasField("success_details"), f"no workflow: {answer.error.message}")
            detail(
                f"CreateApprovalWorkflow {answer.success_details.workflow_id}: {kind} of every "
                "tenant, 1 of alice, bob"
            )


def refuse_by_policy(stage: Stage, agent: Any, session: str) -> None:
    from aesp.proto.altar.aesp.v1 import policy_pb2, policy_pb2_grpc

    say(
        6,
        f"A policy: refunds above {POLICY_LIMIT} USD are refused",
        f"""
        Alice writes a rule in CEL over the call's arguments. A policy change is governed like a
        contract: an approval workflow (bob defines it first) sends it to the other operator,
        and once approved it applies to the very next call of tenant {TENANT}. There is no
        `aesp policies` command yet: alice calls EnterprisePolicyService.CreatePolicy, over the
        same mutual TLS.""",
    )
    define_workflows(stage)
    policy = policy_pb2.PolicyDefinition(
        policy_id="refund-limit",
        name="refunds above the limit need a person",
        version="1.0.0",
        applies_to=[f"tool:{TOOL}"],
        enabled=True,
        rule=policy_pb2.PolicyRule(condition=POLICY_CONDITION, effect="DENY"),
    )
    with _channel(stage, "alice") as channel:
        stub = policy_pb2_grpc.EnterprisePolicyServiceStub(channel)
        answer = stub.CreatePolicy(policy_pb2.CreatePolicyRequest(policy=policy, tenant_id=TENANT))
    expect(answer.HasField("success_details"), f"CreatePolicy failed: {answer.error.message}")
    rid = answer.success_details.approval_request_id
    detail(f"CreatePolicy refund-limit (DENY when {POLICY_CONDITION}), by alice: pending {rid}")
    expect(rid.startswith("apr-"), f"CreatePolicy opened no approval request: {answer}")
    approve(stage, rid, TENANT)
    note("The agent asks for a 900 USD refund:")
    refused(agent, session, {**ORDER, "amount": 900}, "POLICY_VIOLATION")


def refuse_over_budget(stage: Stage, agent: Any, session: str) -> None:
    calls = round(BUDGET / PRICE_PER_CALL)
    say(
        7,
        f"A hard budget: {BUDGET:.2f} USD for {TOOL}, room for {calls} calls",
        f"""
        The Host meters every call ({PRICE_PER_CALL:.2f} USD per refund here) and, before it
        dispatches one, reserves its cost on every budget it falls under. A hard budget refuses
        the call that would go over it, before the tool runs. Budgets wait for approval too.""",
    )
    created = aesp(
        "budgets", "create", "--amount", str(BUDGET), "--budget-name", "refund spend",
        "--scope", "TOOL", "--scope-value", TOOL, "--hard", "--tenant", TENANT,
        "--reason", "cap what agents can refund", *stage.as_operator("alice"),
        shown=f"budgets create --amount {BUDGET} --budget-name 'refund spend' --scope TOOL "
        f"--scope-value {TOOL} --hard --tenant {TENANT}   # as alice",
    )  # fmt: skip
    expect(created.status == 0, "the budget could not be created")
    approve(stage, request_id(created.out), TENANT)
    for i in range(1, calls + 1):
        result = agent.call(session, TOOL, {**ORDER, "order_id": f"ORD-20{i}", "amount": 10})
        expect(result.status == "SUCCESS", f"call {i} within the budget failed")
        detail(f"call {i}: {result.status} {json.dumps(result.content)}")
    note(f"Call {calls + 1} would go over the budget:")
    refused(agent, session, {**ORDER, "order_id": "ORD-209", "amount": 10}, "QUOTA_EXCEEDED")

"""Steps 6 and 7 of ``aesp demo``: a policy and a budget, each approved by a second operator,
refuse the agent's calls (POLICY_VIOLATION, QUOTA_EXCEEDED).

Policy and budget changes of a tenant go to the approvers an approval workflow names (or, with
none, to the holders of a role that may approve in that tenant). The demo's operators belong to
tenant ``ops``, so bob first defines, for every tenant, workflows naming both operators with one
approval needed: either may approve the other's change, never his or her own.
"""

from __future__ import annotations

import json
import re
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
from aesp.demo.stage import DemoFailed, aesp, detail, expect, note, request_id, say

POLICY_CONDITION = f"double(request.args.amount) > {POLICY_LIMIT}.0"
WORKFLOW_ID = re.compile(r"\bworkflow (wf-[0-9A-Za-z_-]+)")


def workflow_id(text: str, kind: str) -> str:
    """The id of the ``kind`` workflow ``aesp workflows create`` printed."""
    found = WORKFLOW_ID.search(text)
    if found is None or kind not in text:
        raise DemoFailed(f"no {kind} workflow id in: {text.strip()}")
    return found.group(1)


def define_workflows(stage: Stage) -> None:
    """Bob routes every tenant's policy and budget changes to alice or bob."""
    for kind in ("POLICY_V1", "BUDGET_V1"):
        defined = aesp(
            "workflows", "create", "--artifact-type", kind, "--approver", ALICE,
            "--approver", BOB, "--min-approvals", "1", "--workflow-name",
            f"{kind}: one platform operator", "--tenant", "*", *stage.as_operator("bob"),
            shown=f"workflows create --artifact-type {kind} --approver {ALICE} --approver {BOB} "
            "--min-approvals 1 --tenant '*'   # as bob",
        )  # fmt: skip
        expect(defined.status == 0, f"bob could not define the {kind} workflow")
        workflow_id(defined.out, kind)  # stops the demo when no workflow id was printed


def refuse_by_policy(stage: Stage, agent: Any, session: str) -> None:
    say(
        6,
        f"A policy: refunds above {POLICY_LIMIT} USD are refused",
        f"""
        Alice writes a rule in CEL over the call's arguments. A policy change is governed like a
        contract: an approval workflow (bob defines it first) sends it to the other operator,
        and once approved it applies to the very next call of tenant {TENANT}.""",
    )
    define_workflows(stage)
    created = aesp(
        "policies", "create", "refund-limit", "--condition", POLICY_CONDITION, "--effect",
        "DENY", "--applies-to", TOOL, "--policy-name", "refunds above the limit need a person",
        "--tenant", TENANT, *stage.as_operator("alice"),
        shown=f"policies create refund-limit --condition '{POLICY_CONDITION}' --effect DENY "
        f"--applies-to {TOOL} --tenant {TENANT}   # as alice",
    )  # fmt: skip
    expect(
        created.status == 0 and "PENDING_APPROVAL" in created.out,
        "the policy could not be submitted for approval",
    )
    approve(stage, request_id(created.out), TENANT)
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

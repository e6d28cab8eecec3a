"""The story ``aesp demo`` tells, one step at a time, each with what happened, why, and the
evidence the system printed (ids, error codes, digests, results).

A tool author writes a function; operator alice promotes it to a governed contract; operator
bob approves it and it becomes callable without a restart; an agent calls it. Then
(:mod:`aesp.demo.rules`) a policy and a budget, each approved the same way, refuse calls, and
(:mod:`aesp.demo.audit`) the audit log is verified offline.
"""

from __future__ import annotations

import inspect
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from aesp.demo.audit import verify_audit, wait_for_fulfilment
from aesp.demo.rules import refuse_by_policy, refuse_over_budget
from aesp.demo.setup import (
    BOB,
    OPS,
    ORDER,
    TENANT,
    TOOL,
    TOOL_SOURCE,
    Stage,
    approve,
    make_pki,
    refused,
    write_config,
)
from aesp.demo.stage import Child, aesp, detail, expect, free_port, note, request_id, say, spawn


def tell(workdir: Path, stack: ExitStack) -> None:
    """Run the whole story in ``workdir``; raises :class:`~aesp.demo.stage.DemoFailed` when a
    step does not show what it should. ``stack`` stops the Host and the Runtime."""
    from aesp.client import Client

    started = time.monotonic()
    print("aesp demo: governed tool calls for AI agents, on this machine, over mutual TLS 1.3.")
    stage = Stage(workdir, make_pki(workdir / "pki"), free_port(), free_port())
    write_tool()
    host, runtime = start_platform(stage, stack)
    ca, cert, key = stage.pems("agent")
    agent = stack.enter_context(Client(stage.target, ca=ca, cert=cert, key=key))
    session = agent.create_session(ttl_seconds=600).session_id
    rid = promote(stage, agent, session)
    approve_contract(stage, rid)
    call_refund(agent, session)
    refuse_by_policy(stage, agent, session)
    refuse_over_budget(stage, agent, session)
    agent.destroy_session(session)
    runtime.stop()
    expect(host.stop() == 0, "the Host did not stop cleanly")
    verify_audit(stage)
    elapsed = time.monotonic() - started
    print(f"\nDone in {elapsed:.1f} s (the promise: under 60 s). Host and Runtime stopped.")


def write_tool() -> None:
    from aesp.examples import demo_tools

    say(
        1,
        "A tool author writes a Python function and marks it @tool",
        """
        Type hints and the docstring become the tool's declaration: name, description, argument
        schema. That is all a tool author writes, and nothing about it is trusted yet.""",
    )
    detail(f"# {demo_tools.__file__}\n{inspect.getsource(demo_tools.issue_refund)}")


def start_platform(stage: Stage, stack: ExitStack) -> tuple[Child, Child]:
    """Start the Host and the Runtime (both stopped when ``stack`` closes, if still running)."""
    say(
        2,
        "A Host and a Runtime start; the Runtime has the code, the Host trusts none of it",
        f"""
        The Host owns the list of trusted tool contracts (its manifest: two example tools, not
        this one) and runs in STRICT mode: nothing outside it can be called. The Runtime, another
        process of tenant {TENANT}, connects over mutual TLS and offers {TOOL}; the Host accepts
        none of it, because a Runtime cannot make its own code callable. Each party is who its
        certificate says: operators alice and bob of tenant {OPS}, the agent of tenant
        {TENANT}.""",
    )
    write_config(stage)
    host = spawn(stage.workdir, stack, "host", "serve", "--config", "aesp.toml")
    detail(host.wait_for("aesp host ready"))
    runtime = spawn(
        stage.workdir, stack, "runtime", "runtime", TOOL_SOURCE.split(":")[0], "--target",
        f"localhost:{stage.runtime_port}", "--pki", "pki", "--name", "refunds",
        "--runtime-id", "refunds-1",
    )  # fmt: skip
    detail(runtime.wait_for("connected;"))
    for line in (stage.workdir / "runtime.stderr.log").read_text().splitlines():
        if "no active contract" in line:
            detail("runtime log: " + line.split(": ", 1)[-1])
    return host, runtime


def promote(stage: Stage, agent: Any, session: str) -> str:
    """Alice promotes the tool; the approval request id."""
    say(
        3,
        "Operator alice promotes the function to an enterprise contract",
        """
        Promotion keeps the name, description and parameters and adds what the enterprise
        decides: a security classification, a risk level, who must approve. It opens an approval
        request naming bob; until he approves, nothing is in force, so the agent's call is
        refused as UNSUPPORTED_TOOL.""",
    )
    opened = aesp(
        "contracts", "promote", TOOL_SOURCE, "--classification", "INTERNAL", "--risk", "MEDIUM",
        "--approvers", BOB, "--justification", "let support agents refund damaged orders",
        *stage.as_operator("alice"),
        shown=f"contracts promote {TOOL_SOURCE} --classification INTERNAL --risk MEDIUM "
        f"--approvers {BOB}   # as alice",
    )  # fmt: skip
    expect(opened.status == 0 and f"{TOOL}@1.0.0" in opened.out, "the promotion failed")
    note("The agent tries the tool anyway:")
    refused(agent, session, {**ORDER, "amount": 40}, "UNSUPPORTED_TOOL")
    return request_id(opened.out)


def approve_contract(stage: Stage, rid: str) -> None:
    say(
        4,
        "Separation of duties: alice cannot approve her own request; bob does",
        """
        The Host refuses a requester's decision on its own request (PERMISSION_DENIED), whatever
        its roles. Bob's approval makes the contract ACTIVE in the running Host: no restart, no
        redeploy. The Host tells the connected Runtime, which takes the tool on.""",
    )
    own = aesp(
        "approvals", "approve", rid, "--tenant", "*", *stage.as_operator("alice"),
        shown=f"approvals approve {rid} --tenant '*'   # as alice",
    )  # fmt: skip
    expect(own.status == 1 and "PERMISSION_DENIED" in own.err, "alice approved her own request")
    approve(stage, rid)
    detail(wait_for_fulfilment(stage))


def call_refund(agent: Any, session: str) -> None:
    say(
        5,
        "The agent calls the tool",
        """
        The Host checks who the agent is (its certificate), that its role may invoke the tool,
        the arguments against the contract, the policies and the budgets; then it routes the
        call to the Runtime and checks the result against the contract before returning it.""",
    )
    result = agent.call(session, TOOL, {**ORDER, "amount": 40})
    expect(result.status == "SUCCESS", f"the call failed: {result.error_message}")
    detail(f"{TOOL}(ORD-1042, 40 USD) = {json.dumps(result.content)}")
    detail(f"invocation {result.invocation_id}, correlation id {result.correlation_id}")

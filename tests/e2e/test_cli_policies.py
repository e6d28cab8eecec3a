"""``aesp policies`` and ``aesp workflows`` end to end: a real Host (the demo's configuration,
operators alice and bob of tenant ``ops``) and the real command, each as its own process.

The Host keeps ``[governance]`` at its defaults, so a policy change waits for a second
operator: alice creates, bob approves, and only then does the policy list and show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from aesp.demo.setup import ALICE, BOB, TENANT, Stage, make_pki, write_config
from aesp.demo.stage import free_port, spawn

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
CONDITION = "double(request.args.amount) > 250.0"
TOOL = "convert_currency"  # in the example manifest the Host trusts, so its schema is known


def _aesp(stage: Stage, who: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``aesp ARGS`` as operator ``who`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "aesp", *args, *stage.as_operator(who)],
        cwd=stage.workdir,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """A running Host with the demo's PKI and configuration (no Runtime: no call is made)."""
    workdir = tmp_path_factory.mktemp("policies")
    stage = Stage(workdir, make_pki(workdir / "pki"), free_port(), free_port())
    write_config(stage)
    with ExitStack() as stack:
        host = spawn(workdir, stack, "host", "serve", "--config", "aesp.toml")
        host.wait_for("aesp host ready")
        yield stage


def test_workflow_then_policy_create_approve_list_show(stage: Stage) -> None:
    """Bob routes POLICY_V1 to both operators; alice's policy waits for bob, then is in force."""
    workflow = _aesp(
        stage, "bob", "workflows", "create", "--artifact-type", "POLICY_V1",
        "--approver", ALICE, "--approver", BOB, "--min-approvals", "1", "--tenant", "*",
    )  # fmt: skip
    assert workflow.returncode == 0, workflow.stderr
    assert workflow.stdout.startswith("workflow wf-") and "POLICY_V1" in workflow.stdout

    created = _aesp(
        stage, "alice", "policies", "create", "big-refunds", "--condition", CONDITION,
        "--effect", "deny", "--applies-to", TOOL, "--policy-name", "big refunds",
        "--tenant", TENANT, "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    pending = json.loads(created.stdout)
    rid = pending["approval_request_id"]
    assert rid.startswith("apr-")
    assert pending["effect"] == "DENY" and pending["applies_to"] == [f"tool:{TOOL}"]

    before = _aesp(stage, "alice", "policies", "list", "--tenant", TENANT)
    assert before.returncode == 0 and "big-refunds" not in before.stdout  # not in force yet

    approved = _aesp(stage, "bob", "approvals", "approve", rid, "--tenant", TENANT)
    assert approved.returncode == 0 and "APPROVED" in approved.stdout, approved.stderr

    listed = _aesp(stage, "alice", "policies", "list", "--tenant", TENANT, "--tool", TOOL)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.startswith("POLICY") and "EFFECT  APPLIES TO" in header
    assert header.endswith("ENABLED CONDITION")
    assert row.split()[:5] == ["big-refunds", "1.0.0", "DENY", f"tool:{TOOL}", "yes"]
    assert row.endswith(CONDITION)

    shown = _aesp(stage, "bob", "policies", "show", "big-refunds", "--tenant", TENANT)
    assert shown.returncode == 0, shown.stderr
    assert f"condition: {CONDITION}" in shown.stdout
    assert "state:     in force" in shown.stdout
    # Stored when approved: the Host records the enacting approver as its creator.
    assert f"by {BOB}" in shown.stdout

    again = _aesp(
        stage, "alice", "policies", "create", "big-refunds", "--condition", CONDITION,
        "--effect", "DENY", "--applies-to", TOOL, "--tenant", TENANT,
    )  # fmt: skip
    assert again.returncode == 1
    assert "INVALID_STATE" in again.stderr and "UpdatePolicy" in again.stderr
    assert "correlation id" in again.stderr


def test_validate_reports_a_cel_compile_error(stage: Stage, tmp_path: Path) -> None:
    """A definition from --file whose condition does not compile: INVALID, exit status 1."""
    definition = tmp_path / "broken.json"
    definition.write_text(
        json.dumps(
            {
                "policy_id": "broken",
                "condition": "request.args.amount >",
                "effect": "DENY",
                "applies_to": "*",
            }
        )
    )
    result = _aesp(
        stage, "alice", "policies", "validate", "--file", str(definition), "--tenant", TENANT
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "INVALID"
    assert any(line.startswith("error: ") and "not valid CEL" in line for line in lines[1:])

    fixed = _aesp(
        stage, "alice", "policies", "validate", "--file", str(definition),
        "--condition", "request.args.amount > 1", "--applies-to", TOOL,
        "--tenant", TENANT,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines()[0] == "VALID"


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--effect", "DENY", "--applies-to", "*"], "--condition"),
        (["--condition", "true", "--effect", "BLOCK", "--applies-to", "*"], "--effect"),
    ],
    ids=["no-condition", "unknown-effect"],
)
def test_an_incomplete_definition_is_refused_in_one_line(
    stage: Stage, flags: list[str], names: str
) -> None:
    """Refused before any call, with the flag to add, exit status 2."""
    result = _aesp(stage, "alice", "policies", "create", "p1", *flags, "--tenant", TENANT)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("aesp: ") and names in result.stderr


def test_an_unknown_artifact_type_is_refused(stage: Stage) -> None:
    result = _aesp(
        stage, "bob", "workflows", "create", "--artifact-type", "CONFIG_V1",
        "--approver", ALICE, "--tenant", "*",
    )  # fmt: skip
    assert result.returncode == 2
    assert "CONFIGURATION_KEY_V1" in result.stderr and "POLICY_V1" in result.stderr


def test_delete_waits_for_approval(stage: Stage) -> None:
    """Deleting a policy is a governed change too: the request to approve, nothing deleted."""
    created = _aesp(
        stage, "alice", "policies", "create", "short-lived", "--condition", "true",
        "--effect", "AUDIT", "--applies-to", "*", "--tenant", "ops",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    rid = created.stdout.split("PENDING_APPROVAL ", 1)[1].split()[0]
    assert _aesp(stage, "bob", "approvals", "approve", rid, "--tenant", "ops").returncode == 0
    deleted = _aesp(
        stage, "alice", "policies", "delete", "short-lived", "--reason", "trial over",
        "--tenant", "ops",
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith("policy short-lived: PENDING_APPROVAL apr-")
    assert "aesp approvals approve apr-" in deleted.stdout
    still = _aesp(stage, "alice", "policies", "show", "short-lived", "--tenant", "ops")
    assert still.returncode == 0 and "state:     in force" in still.stdout

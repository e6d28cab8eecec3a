"""The deployment artifacts stay in step with the code: ``deploy/aesp-aws.yaml`` and
``deploy/iam-policy.json``.

Why a test: the template and the policy are written by hand, beside code that several people
change. These checks read the adapter's source (an AST scan, no AWS, no network) for every
DynamoDB table it names and every AWS operation it calls, and fail when the template lacks a
table or the policy lacks an action, so a new call cannot ship with a Host role that refuses it.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from aesp_aws import state
from aesp_aws.approval_workflow import definition
from cfnlint.decode import cfn_yaml

ADAPTER = Path(__file__).resolve().parents[1]
SOURCE = ADAPTER / "aesp_aws"
TEMPLATE = ADAPTER / "deploy" / "aesp-aws.yaml"
POLICY = ADAPTER / "deploy" / "iam-policy.json"

# Functions that take a boto3 client object and an operation name (``getattr(client, op)``):
# the scanner cannot see which client they get, so their service is stated here.
CLIENT_FUNCTIONS = {("_identity_center.py", "_pages"): "identitystore"}

# ``settings.table(...)`` names that are not DynamoDB tables.
NOT_TABLES = {
    "approvals": "the name stem of the approval state machine and its token queue "
    "(<prefix>-approvals, <prefix>-approvals-tokens), created by the template",
}

# Operations only the ``create_resources = true`` path (development, tests) calls: the template
# creates those resources, so the running Host's policy must not allow them. Each is also
# checked to be called only from one of CREATE_FUNCTIONS.
CREATE_ONLY = {
    ("dynamodb", "create_table"): "ensure_table creates a missing table",
    ("dynamodb", "waiter:table_exists"): "ensure_table waits for the new table (DescribeTable)",
    ("dynamodb", "describe_time_to_live"): "the state table's TTL is switched on at creation",
    ("dynamodb", "update_time_to_live"): "the state table's TTL is switched on at creation",
    ("appconfig", "create_application"): "AppConfig resources made for development",
    ("appconfig", "create_environment"): "AppConfig resources made for development",
    ("appconfig", "create_configuration_profile"): "AppConfig resources made for development",
    ("appconfig", "create_deployment_strategy"): "AppConfig resources made for development",
    ("kms", "describe_key"): "finds the development signing key behind its alias",
    ("kms", "create_key"): "creates the development signing key",
    ("kms", "create_alias"): "names the development signing key",
    ("kms", "schedule_key_deletion"): "retires a key that lost the alias race",
    ("s3", "create_bucket"): "creates the development archive bucket",
    ("s3", "put_object_lock_configuration"): "sets the development bucket's Object Lock",
    ("sqs", "create_queue"): "creates the development token queue",
    ("sqs", "get_queue_attributes"): "reads the development queue's ARN for its role",
    ("stepfunctions", "create_state_machine"): "creates the development state machine",
    ("stepfunctions", "list_state_machines"): "finds the development state machine",
    ("iam", "get_role"): "reads the development state machine's role",
}
CREATE_FUNCTIONS = {
    "ensure_table",
    "_enable_ttl",
    "_create",
    "_ensure_key",
    "ensure_workflow_resources",
    "_ensure_role",
}

# Operations whose IAM action is not ``<signing name>:<API name>``.
IAM_ACTIONS = {
    # a transaction is authorised item by item, by the actions of its parts
    ("dynamodb", "transact_write_items"): (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ),
    ("s3", "head_object"): ("s3:GetObject",),
    ("s3", "get_object_lock_configuration"): ("s3:GetBucketObjectLockConfiguration",),
    ("s3", "put_object_lock_configuration"): ("s3:PutBucketObjectLockConfiguration",),
    # PutObject with ObjectLockMode/ObjectLockRetainUntilDate also needs PutObjectRetention
    ("s3", "put_object"): ("s3:PutObject", "s3:PutObjectRetention"),
    ("budgets", "describe_budget"): ("budgets:ViewBudget",),
    ("budgets", "describe_notifications_for_budget"): ("budgets:ViewBudget",),
    ("budgets", "create_budget"): ("budgets:ModifyBudget",),
    ("budgets", "delete_budget"): ("budgets:ModifyBudget",),
    ("budgets", "create_notification"): ("budgets:ModifyBudget",),
    ("budgets", "delete_notification"): ("budgets:ModifyBudget",),
}


# ---------------------------------------------------------------------- the source scanner


@dataclass(frozen=True)
class Call:
    """One AWS operation the adapter calls, and where."""

    service: str
    operation: str  # boto3 method name, or ``waiter:<name>``
    module: str
    function: str
    line: int


@dataclass
class Scan:
    calls: set[Call]
    tables: dict[str, set[str]]  # module -> the ``settings.table(...)`` names it asks for
    unresolved: list[str]  # dynamic calls the scanner could not name: each fails a test


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function body, not descending into nested functions or classes."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _own_nodes(child)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[str], list[str]]:
    """Positional parameter names (without ``self``/``cls``) and keyword-only ones."""
    positional = [p.arg for p in fn.args.posonlyargs + fn.args.args]
    if positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    return positional, [p.arg for p in fn.args.kwonlyargs]


def _literal(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _client_service(node: ast.AST, constants: dict[str, str]) -> str | None:
    """``<anything>.client("<service>")`` -> the service."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
    ):
        return _literal(node.args[0], constants)
    return None


def _scan_module(path: Path, scan: Scan) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = path.name
    constants: dict[str, str] = {}
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else getattr(stmt, "target", None)
        value = getattr(stmt, "value", None)
        is_text = isinstance(value, ast.Constant) and isinstance(value.value, str)
        if isinstance(target, ast.Name) and is_text:
            constants[target.id] = value.value
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]

    # Wrappers: functions passing one of their parameters on as the operation name.
    wrappers: dict[str, tuple[str, int | None, str]] = {}
    for fn in functions:
        positional, keyword = _params(fn)
        for node in _own_nodes(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "call" and len(node.args) >= 2:
                service, op = _literal(node.args[0], constants), node.args[1]
                if service and isinstance(op, ast.Name) and op.id in positional + keyword:
                    index = positional.index(op.id) if op.id in positional else None
                    wrappers[fn.name] = (service, index, op.id)
            if isinstance(func, ast.Call) and getattr(func.func, "id", "") == "getattr":
                service = CLIENT_FUNCTIONS.get((module, fn.name))
                op = func.args[1]
                if service and isinstance(op, ast.Name) and op.id in positional:
                    wrappers[fn.name] = (service, positional.index(op.id), op.id)
                else:
                    scan.unresolved.append(f"{module}:{node.lineno} getattr(client, ...)")

    for fn in functions:
        clients = {}
        for node in _own_nodes(fn):
            if isinstance(node, ast.Assign) and (service := _client_service(node.value, constants)):
                clients.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})

        def found(service: str, op: str, line: int, fn_name: str = fn.name) -> None:
            scan.calls.add(Call(service, op, module, fn_name, line))

        for node in _own_nodes(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            where = f"{module}:{node.lineno} {ast.unparse(node)[:70]}"
            if isinstance(func, ast.Attribute) and name == "call" and len(node.args) >= 2:
                service, op = _literal(node.args[0], constants), _literal(node.args[1], constants)
                if service and op:
                    found(service, op, node.lineno)
                elif fn.name not in wrappers:
                    scan.unresolved.append(where)
            elif isinstance(func, ast.Attribute) and name == "table" and node.args:
                table = _literal(node.args[0], constants)
                if table is None:
                    scan.unresolved.append(where)
                else:
                    scan.tables.setdefault(module, set()).add(table)
            elif name in wrappers and name != fn.name:
                service, index, param = wrappers[name]
                arg = next((k.value for k in node.keywords if k.arg == param), None)
                if arg is None and index is not None and index < len(node.args):
                    arg = node.args[index]
                op = _literal(arg, constants)
                if op:
                    found(service, op, node.lineno)
                else:
                    scan.unresolved.append(where)
            elif isinstance(func, ast.Attribute) and name in ("get_paginator", "get_waiter"):
                target = func.value
                service = _client_service(target, constants)
                if service is None and isinstance(target, ast.Name):
                    service = clients.get(target.id)
                op = _literal(node.args[0] if node.args else None, constants)
                if service and op:
                    found(service, f"waiter:{op}" if name == "get_waiter" else op, node.lineno)
                else:
                    scan.unresolved.append(where)
            elif isinstance(func, ast.Attribute):
                service = _client_service(func.value, constants)
                if service is None and isinstance(func.value, ast.Name):
                    service = clients.get(func.value.id)
                if service:
                    found(service, func.attr, node.lineno)


@cache
def scan_source() -> Scan:
    scan = Scan(calls=set(), tables={}, unresolved=[])
    for path in sorted(SOURCE.glob("*.py")):
        _scan_module(path, scan)
    return scan


def operations() -> set[tuple[str, str]]:
    return {(c.service, c.operation) for c in scan_source().calls}


# ---------------------------------------------------------------------- IAM


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions that authorise ``client(service).<operation>``."""
    if (service, operation) in IAM_ACTIONS:
        return IAM_ACTIONS[(service, operation)]
    client = _client(service)
    model = client.meta.service_model
    prefix = model.signing_name or model.endpoint_prefix
    if operation.startswith("waiter:"):
        api = client.get_waiter(operation.removeprefix("waiter:")).config.operation
    else:
        api = client.meta.method_to_api_mapping[operation]
    return (f"{prefix}:{api}",)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(document: dict[str, Any], action: str) -> bool:
    """Whether some Allow statement of ``document`` names ``action`` (IAM wildcards, any case)."""
    return any(
        statement["Effect"] == "Allow"
        and any(
            fnmatch.fnmatchcase(action.lower(), pattern.lower())
            for pattern in _as_list(statement["Action"])
        )
        for statement in document["Statement"]
    )


@cache
def policy() -> dict[str, Any]:
    return json.loads(POLICY.read_text(encoding="utf-8"))


@cache
def template() -> dict[str, Any]:
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: r.get("Properties", {})
        for name, r in template()["Resources"].items()
        if r["Type"] == kind
    }


def _sub(value: Any) -> str:
    """The ``Fn::Sub`` string of a template value, with ``${TablePrefix}`` as ``<p>``."""
    assert isinstance(value, dict) and set(value) == {"Fn::Sub"}, value
    return str(value["Fn::Sub"]).replace("${TablePrefix}", "<p>")


# ---------------------------------------------------------------------- the tests


def test_template_passes_cfn_lint() -> None:
    linter = Path(sys.executable).with_name("cfn-lint")
    command = [str(linter)] if linter.exists() else [str(shutil.which("cfn-lint"))]
    result = subprocess.run(
        [*command, str(TEMPLATE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_scanner_resolves_every_call_and_finds_the_known_ones() -> None:
    scan = scan_source()
    assert scan.unresolved == [], "name the service in CLIENT_FUNCTIONS or use literal names"
    found = operations()
    known = {
        ("dynamodb", "transact_write_items"),
        ("dynamodb", "batch_get_item"),
        ("dynamodb", "waiter:table_exists"),
        ("sqs", "receive_message"),
        ("sqs", "delete_message"),
        ("identitystore", "list_users"),
        ("identitystore", "list_group_memberships"),
        ("stepfunctions", "list_state_machines"),
        ("stepfunctions", "send_task_success"),
        ("kms", "sign"),
        ("cloudtrail-data", "put_audit_events"),
        ("appconfigdata", "get_latest_configuration"),
        ("budgets", "describe_notifications_for_budget"),
        ("ce", "get_cost_and_usage"),
        ("iam", "untag_role"),
        ("secretsmanager", "get_secret_value"),
        ("sso-admin", "list_instances"),
    }
    assert known <= found, sorted(known - found)
    assert len(found) >= 60, sorted(found)
    for service, op in found:  # every name is a real boto3 operation of its service
        iam_actions(service, op)


def test_every_table_the_code_names_is_in_the_template() -> None:
    tables = {_sub(p["TableName"]): p for p in resources_of("AWS::DynamoDB::Table").values()}
    named = set().union(*scan_source().tables.values())
    assert {"tenants", "state", "identity", "config", "cost", "governance"} <= named
    for name in sorted(named - set(NOT_TABLES)):
        assert f"<p>-{name}" in tables, f"the code uses table {name!r}; the template lacks it"
    assert set(tables) == {f"<p>-{n}" for n in named - set(NOT_TABLES)}, "unused tables"
    for props in tables.values():
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert {"AttributeName": "pk", "AttributeType": "S"} in props["AttributeDefinitions"]
        assert props["KeySchema"][0] == {"AttributeName": "pk", "KeyType": "HASH"}


def test_table_key_schemas_follow_ensure_table() -> None:
    """Modules that call ``ensure_table(..., sort_key=False)`` own hash-only tables; every
    other table has the string sort key ``sk``."""
    hash_only_modules = set()
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ensure_table":
                flags = [k.value for k in node.keywords if k.arg == "sort_key"]
                if flags and isinstance(flags[0], ast.Constant) and flags[0].value is False:
                    hash_only_modules.add(path.name)
    assert hash_only_modules == {"identity.py", "state.py"}
    hash_only = set()
    for module in hash_only_modules:
        (table,) = scan_source().tables[module]  # one table per such module, or this is unclear
        hash_only.add(f"<p>-{table}")
    for props in resources_of("AWS::DynamoDB::Table").values():
        keys = [k["AttributeName"] for k in props["KeySchema"]]
        attrs = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        if _sub(props["TableName"]) in hash_only:
            assert keys == ["pk"] and attrs == {"pk": "S"}, props["TableName"]
        else:
            assert props["KeySchema"][1] == {"AttributeName": "sk", "KeyType": "RANGE"}
            assert keys == ["pk", "sk"] and attrs == {"pk": "S", "sk": "S"}, props["TableName"]


def test_state_table_expires_items_on_the_attribute_the_code_writes() -> None:
    ttl = {
        _sub(p["TableName"]): p.get("TimeToLiveSpecification")
        for p in resources_of("AWS::DynamoDB::Table").values()
    }
    assert ttl.pop("<p>-state") == {"AttributeName": state.TTL_ATTRIBUTE, "Enabled": True}
    assert all(v is None for v in ttl.values())


def test_state_machine_and_queue_match_the_code() -> None:
    (machine,) = resources_of("AWS::StepFunctions::StateMachine").values()
    assert machine["Definition"] == json.loads(definition())
    assert _sub(machine["StateMachineName"]) == "<p>-approvals"
    (queue,) = resources_of("AWS::SQS::Queue").values()
    assert _sub(queue["QueueName"]) == "<p>-approvals-tokens"


def test_audit_resources_are_what_the_code_checks() -> None:
    (key,) = resources_of("AWS::KMS::Key").values()
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    (alias,) = resources_of("AWS::KMS::Alias").values()
    assert _sub(alias["AliasName"]) == "alias/<p>-audit-checkpoints"
    (bucket,) = resources_of("AWS::S3::Bucket").values()
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    (channel,) = resources_of("AWS::CloudTrail::Channel").values()
    assert channel["Source"] == "Custom"


def test_the_policy_allows_every_operation_a_running_host_calls() -> None:
    missing = sorted(
        f"{action} ({c.module}:{c.line} {c.service}.{c.operation})"
        for c in scan_source().calls
        if (c.service, c.operation) not in CREATE_ONLY
        for action in iam_actions(c.service, c.operation)
        if not allowed(policy(), action)
    )
    assert missing == [], "deploy/iam-policy.json (and the template's HostPolicy) must allow these"


def test_create_only_operations_are_create_only_and_not_allowed() -> None:
    sites = {(c.service, c.operation): set() for c in scan_source().calls}
    for c in scan_source().calls:
        sites[(c.service, c.operation)].add(c.function)
    for op, reason in CREATE_ONLY.items():
        assert op in sites, f"{op} is no longer called; drop it from CREATE_ONLY ({reason})"
        assert sites[op] <= CREATE_FUNCTIONS, f"{op} is called outside create paths: {sites[op]}"
    needed = {action for op in operations() - set(CREATE_ONLY) for action in iam_actions(*op)}
    for op in CREATE_ONLY:
        for action in set(iam_actions(*op)) - needed:
            assert not allowed(policy(), action), f"{action} is for create_resources only"


@pytest.mark.parametrize("sid", [s["Sid"] for s in json.loads(POLICY.read_text())["Statement"]])
def test_template_host_policy_has_the_same_statements(sid: str) -> None:
    (host,) = resources_of("AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in host["PolicyDocument"]["Statement"]}
    assert set(statements) == {s["Sid"] for s in policy()["Statement"]}
    ours = next(s for s in policy()["Statement"] if s["Sid"] == sid)
    theirs = statements[sid]
    assert sorted(_as_list(ours["Action"])) == sorted(_as_list(theirs["Action"]))
    assert ours["Effect"] == theirs["Effect"] == "Allow"


def test_toml_snippet_names_every_required_key() -> None:
    snippet = template()["Outputs"]["AdaptersAwsToml"]["Value"]["Fn::Sub"][0]
    required = {
        "appconfig_application_id",
        "appconfig_environment_id",
        "appconfig_profile_id",
        "appconfig_strategy_id",
        "audit_channel_arn",
        "audit_kms_key_id",
        "audit_bucket",
        "approval_state_machine_arn",
        "approval_queue_url",
        "table_prefix",
        "region",
    }
    keys = {line.split("=")[0].strip() for line in snippet.splitlines() if "=" in line}
    assert required <= keys, sorted(required - keys)
    assert snippet.startswith("[adapters.aws]\n")
    for source in SOURCE.glob("*.py"):  # every require()d key is in the snippet
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "require":
                key = node.args[0]
                if isinstance(key, ast.Constant):
                    assert key.value in keys, f"{source.name} requires {key.value}"

"""Checks of the protobuf layer against SPEC.md.

* The committed generated tree aesp/proto/ is exactly what scripts/gen_protos.sh produces.
* Field numbers the SPEC fixes are the numbers on the wire.
* The six AESP Enterprise services of SPEC §3.7 exist with their RPCs and streaming shapes.
* Project conventions: C-39 response envelopes and paging, C-31 uint64 timestamps, C-15 enum
  zeros, and a leading comment on every proto element (it becomes the generated docstring).
"""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

# Importing the generated modules registers their descriptors in the default pool.
from aesp.proto.altar.adm.v1 import adm_pb2  # noqa: F401
from aesp.proto.altar.aesp.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    configuration_pb2,
    configuration_pb2_grpc,
    cost_pb2,
    cost_pb2_grpc,
    enterprise_pb2,
    governance_pb2,
    governance_pb2_grpc,
    host_pb2,
    identity_pb2,
    identity_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)
from aesp.proto.altar.grid.v1 import grid_pb2

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "aesp" / "proto"
PROTO_ROOT = ROOT / "proto"
POOL = descriptor_pool.Default()

AESP = "altar.aesp.v1."
GRID = "altar.grid.v1."

# Modules whose messages and enums the convention tests walk.
AESP_MODULES = [
    enterprise_pb2,
    host_pb2,
    identity_pb2,
    policy_pb2,
    audit_pb2,
    governance_pb2,
    cost_pb2,
    configuration_pb2,
]
ALL_MODULES = [grid_pb2, *AESP_MODULES]
ENTERPRISE_SERVICE_MODULES = [
    identity_pb2,
    policy_pb2,
    audit_pb2,
    governance_pb2,
    cost_pb2,
    configuration_pb2,
]


def _message(full_name: str):
    return POOL.FindMessageTypeByName(full_name)


def _walk_messages(descriptors):
    for d in descriptors:
        if d.GetOptions().map_entry:
            continue
        yield d
        yield from _walk_messages(d.nested_types)


def _all_messages(modules):
    for module in modules:
        yield from _walk_messages(module.DESCRIPTOR.message_types_by_name.values())


def _all_enums(modules):
    for module in modules:
        yield from module.DESCRIPTOR.enum_types_by_name.values()
        for message in _all_messages([module]):
            yield from message.enum_types


def _enterprise_methods():
    for module in ENTERPRISE_SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            yield from service.methods


# ---------------------------------------------------------------------------- (a) generated tree


def _tree(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_generated_tree_matches_regeneration(tmp_path):
    out = tmp_path / "proto"
    env = {**os.environ, "PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen_protos.sh"), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"scripts/gen_protos.sh failed:\n{run.stdout}\n{run.stderr}"

    committed, fresh = _tree(GENERATED), _tree(out)
    missing = sorted(fresh - committed)
    extra = sorted(committed - fresh)
    changed = sorted(
        f for f in committed & fresh if not filecmp.cmp(GENERATED / f, out / f, shallow=False)
    )
    problems = []
    if missing:
        problems.append(f"missing from aesp/proto: {missing}")
    if extra:
        problems.append(f"in aesp/proto but not generated: {extra}")
    if changed:
        problems.append(f"differ from a fresh generation: {changed}")
    assert not problems, (
        "aesp/proto is stale; run scripts/gen_protos.sh and commit the result.\n"
        + "\n".join(problems)
    )


# ---------------------------------------------------------------------------- (b) field numbers


def _seq(*names: str, start: int = 1) -> dict[str, int]:
    return {name: number for number, name in enumerate(names, start)}


# fmt: off
FIELD_NUMBERS = [
    # --- GRID (SPEC §2.3)
    ("§2.3.1-AnnounceRuntime", GRID + "AnnounceRuntime", {
        **_seq("runtime_id", "language", "version", "capabilities", "metadata",
               "compliance_level", "optional_features"),
        "protocol_version": 10, "supported_versions": 11, "version_preferences": 12,
        "correlation_id": 14,  # C-11
    }),
    ("§2.3.1-AnnounceRuntimeResponse", GRID + "AnnounceRuntimeResponse", {
        **_seq("connection_id", "available_contracts", "correlation_id", "negotiated_level",
               "enabled_features", "feature_config"),
        "negotiated_version": 10, "available_features": 11, "version_config": 12,
    }),
    ("§2.3.1+C-11-FulfillTools", GRID + "FulfillTools",
     _seq("session_id", "tool_names", "runtime_id", "correlation_id")),
    ("§2.3.1-FulfillToolsResponse", GRID + "FulfillToolsResponse",
     _seq("status", "fulfilled_tools", "rejected_tools", "errors", "session_id", "correlation_id")),
    ("§2.3.2+C-11+C-45-ToolCall", GRID + "ToolCall",
     _seq("invocation_id", "correlation_id", "call", "session_id", "timeout_ms")),
    ("§2.3.2-ToolResult", GRID + "ToolResult", _seq("invocation_id", "correlation_id", "result")),
    ("§2.3.2+C-11-StreamChunk", GRID + "StreamChunk",
     _seq("invocation_id", "chunk_id", "payload", "is_final", "error", "correlation_id",
          "enhanced_error")),
    ("§2.3.2-TracedToolCall", GRID + "TracedToolCall",
     _seq("invocation_id", "correlation_id", "call", "trace_context")),
    ("§2.3.2-TraceContext", GRID + "TraceContext",
     _seq("trace_id", "span_id", "parent_span_id", "baggage", "trace_flags")),
    ("§2.3.3-CreateSession", GRID + "CreateSession",
     _seq("suggested_session_id", "metadata", "ttl_seconds", "security_context")),
    ("§2.3.3+C-11-CreateSessionResponse", GRID + "CreateSessionResponse",
     _seq("session_id", "expires_at_ms", "error")),
    ("§2.3.3-DestroySession", GRID + "DestroySession", _seq("session_id", "force")),
    ("§2.3.3+C-11-DestroySessionResponse", GRID + "DestroySessionResponse",
     _seq("destroyed", "error")),
    ("§2.3.4-Error", GRID + "Error", _seq("message", "type")),
    ("§2.3.4-SecurityContext", GRID + "SecurityContext",
     _seq("principal_id", "tenant_id", "claims")),
    ("§2.3.4-EnhancedError(§6.2.1,C-6)", GRID + "EnhancedError", _seq(
        "message", "type", "details", "correlation_id", "timestamp", "retry_allowed",
        "retry_after_ms", "max_retries", "remediation_steps", "documentation_url",
        "support_reference", "component", "session_id", "runtime_id", "tool_name", "severity",
        "category", "tags", "execution_time_ms", "performance_metrics", "trace_id", "caused_by")),
    ("§2.3.4-RemediationGuidance", GRID + "RemediationGuidance",
     _seq("immediate_actions", "user_actions", "system_actions", "escalation",
          "success_criteria")),
    ("§2.3.4-RemediationStep", GRID + "RemediationStep",
     _seq("step_id", "description", "type", "estimated_time_minutes", "prerequisites",
          "automation_script", "validation_commands")),
    ("§2.3.4-EscalationPath", GRID + "EscalationPath", _seq("levels")),
    ("§2.3.4-EscalationLevel", GRID + "EscalationLevel",
     _seq("level_name", "contact_method", "response_time_minutes", "required_information")),
    ("C-11-SuccessCriterion", GRID + "SuccessCriterion",
     _seq("criterion", "threshold_ms", "validation_command")),
    ("§2.3.5-RegisterToolsRequest", GRID + "RegisterToolsRequest",
     _seq("runtime_id", "tools", "session_id", "metadata")),
    ("§2.3.5-RegisterToolsResponse", GRID + "RegisterToolsResponse",
     _seq("status", "accepted_tools", "rejected_tools", "errors", "session_id")),
    ("§2.3.5-AuthorizeToolCallRequest", GRID + "AuthorizeToolCallRequest",
     _seq("session_id", "security_context", "call", "correlation_id", "metadata")),
    ("§2.3.5-AuthorizeToolCallResponse", GRID + "AuthorizeToolCallResponse",
     _seq("status", "invocation_id", "correlation_id", "error", "authorization_ttl_ms",
          "execution_context")),
    ("§2.3.5-LogToolResultRequest", GRID + "LogToolResultRequest",
     _seq("session_id", "invocation_id", "correlation_id", "result", "execution_time_ms",
          "execution_metadata", "timestamp")),
    ("§2.3.5-LogToolResultResponse", GRID + "LogToolResultResponse",
     _seq("status", "correlation_id", "error")),
    ("§2.3.6-CapabilityUpdate", GRID + "CapabilityUpdate",
     _seq("runtime_id", "new_features", "deprecated_features", "reason", "effective_timestamp")),
    ("§2.3.6-CapabilityUpdateResponse", GRID + "CapabilityUpdateResponse",
     _seq("status", "accepted_features", "rejected_features", "errors",
          "next_review_timestamp")),
    ("C-11-Heartbeat", GRID + "Heartbeat", _seq("runtime_id", "timestamp_ms", "load")),
    ("C-11-CancelInvocation", GRID + "CancelInvocation", _seq("invocation_id", "reason")),
    ("§2.3.7-RuntimeStatusNotification", GRID + "RuntimeStatusNotification",
     _seq("runtime_id", "status", "message", "timestamp_ms", "metadata")),
    # --- AESP replacement messages (SPEC §3.5)
    ("§3.5.1-EnterpriseSecurityContext", AESP + "EnterpriseSecurityContext", _seq(
        "principal_id", "tenant_id", "claims", "organization_id", "business_unit", "roles",
        "permissions", "security_clearance", "data_classification", "session_expires_at",
        "policy_context")),
    ("§3.5.2-EnterpriseToolContract", AESP + "EnterpriseToolContract", _seq(
        "name", "contract_version", "description", "parameters", "return_type",
        "supports_streaming", "security_classification", "required_roles",
        "required_permissions", "approval_status", "approved_by", "approved_at",
        "compliance_tags", "risk_assessment", "governance_metadata")),
    ("§3.5.3+C-1-EnterpriseRuntimeAnnouncement", AESP + "EnterpriseRuntimeAnnouncement", {
        **_seq("runtime_id", "language", "version", "capabilities", "certificate_identity",
               "runtime_attestation", "declared_contracts"),
        "metadata": 8, "compliance_level": 9, "protocol_version": 10, "supported_versions": 11,
        "version_preferences": 12, "optional_features": 13, "correlation_id": 14,
        **_seq("tenant_id", "security_zone", "deployment_environment", "certifications",
               "compliance_metadata", "resource_limits", "security_requirements", start=20),
    }),
    ("C-2-CertificateIdentity", AESP + "CertificateIdentity", _seq(
        "subject_dn", "issuer_dn", "serial_number", "fingerprint_sha256", "not_before_ms",
        "not_after_ms", "san_dns", "san_uris", "spiffe_id")),
    ("§3.5.3-SecurityRequirements", AESP + "SecurityRequirements", _seq(
        "requires_encryption", "requires_mtls", "min_tls_version", "allowed_cipher_suites",
        "requires_certificate_pinning")),
    ("§3.5.3-ResourceLimits", AESP + "ResourceLimits",
     _seq("max_memory_mb", "max_cpu_pct", "max_concurrent_invocations")),
    ("§3.5.4-EnterpriseError", AESP + "EnterpriseError", _seq(
        "code", "message", "details", "tenant_id", "principal_id", "correlation_id",
        "retry_after_ms", "security_implications", "compliance_impact", "remediation_steps",
        "escalation_required")),
    # --- SPEC §3.6 records
    ("§3.6+C-35-AuditEvent", AESP + "AuditEvent", _seq(
        "event_id", "timestamp_ms", "event_type", "principal_id", "tenant_id", "session_id",
        "resource", "action", "outcome", "source_ip", "user_agent", "metadata", "risk_score",
        "policy_violations", "correlation_id", "trace_id", "organization_id",
        "applied_policies", "prev_hash", "hash", "signature", "signing_key_id")),
    ("§3.6-PolicyDefinition", AESP + "PolicyDefinition", _seq(
        "policy_id", "name", "description", "version", "rule", "applies_to", "enabled",
        "created_at", "updated_at", "created_by")),
    ("§3.6-PolicyRule", AESP + "PolicyRule", _seq("condition", "effect", "actions", "parameters")),
    ("§3.6-AccountingEvent", AESP + "AccountingEvent", _seq(
        "event_id", "timestamp_ms", "tenant_id", "principal_id", "session_id", "resource_type",
        "quantity", "unit", "unit_cost", "total_cost", "cost_center", "project_id", "metadata")),
    ("§3.6-BudgetDefinition", AESP + "BudgetDefinition", _seq(
        "budget_id", "name", "tenant_id", "cost_center", "amount", "currency", "period",
        "alert_thresholds", "auto_shutdown", "start_date", "end_date")),
    # --- SPEC §3.7(1) identity
    ("§3.7(1)-CreateServiceAccountRequest", AESP + "CreateServiceAccountRequest", _seq(
        "name", "description", "tenant_id", "roles", "permissions", "expires_at", "metadata")),
    ("§3.7(1)-CreateServiceAccountResponse", AESP + "CreateServiceAccountResponse",
     _seq("success_details", "error")),
    ("§3.7(1)-ServiceAccountDetails", AESP + "ServiceAccountDetails",
     _seq("service_account_id", "api_key", "secret", "created_at", "expires_at")),
    ("§3.7(1)-ListPrincipalsRequest", AESP + "ListPrincipalsRequest",
     _seq("tenant_id", "principal_type", "include_inactive", "limit", "cursor")),
    ("§3.7(1)-GetPrincipalDetailsRequest", AESP + "GetPrincipalDetailsRequest",
     _seq("principal_id", "include_permissions", "include_audit_summary")),
    # --- SPEC §3.7(2) policy
    ("§3.7(2)-CreatePolicyRequest", AESP + "CreatePolicyRequest",
     _seq("policy", "tenant_id", "dry_run")),
    ("§3.7(2)-EvaluatePolicyRequest", AESP + "EvaluatePolicyRequest",
     _seq("policy_id", "context", "principal_id", "resource", "action")),
    # --- SPEC §3.7(3) audit
    ("§3.7(3)-LogEventRequest", AESP + "LogEventRequest", _seq("event", "immediate_flush")),
    ("§3.7(3)-QueryEventsRequest", AESP + "QueryEventsRequest", _seq(
        "tenant_id", "start_time", "end_time", "event_types", "principal_id", "filters", "limit",
        "cursor")),
    # --- SPEC §3.7(4) governance
    ("§3.7(4)-RequestApprovalRequest", AESP + "RequestApprovalRequest", _seq(
        "artifact_type", "artifact_id", "artifact_data", "requester_id", "tenant_id",
        "justification", "required_approvers", "expires_at", "metadata")),
    ("§3.7(4)-RequestApprovalResponse", AESP + "RequestApprovalResponse",
     _seq("success_details", "error")),
    ("§3.7(4)-ApprovalRequestDetails", AESP + "ApprovalRequestDetails",
     _seq("approval_request_id", "status", "pending_approvers", "created_at")),
    ("§3.7(4)-AdjudicateApprovalRequest", AESP + "AdjudicateApprovalRequest",
     _seq("approval_request_id", "approver_id", "decision", "comments", "conditions")),
    ("§3.7(4)-AdjudicateApprovalResponse", AESP + "AdjudicateApprovalResponse",
     _seq("success_details", "error")),
    ("§3.7(4)-ApprovalDecisionDetails", AESP + "ApprovalDecisionDetails",
     _seq("final_status", "workflow_complete", "remaining_approvers")),
    ("§3.7(4)-ListPendingApprovalsRequest", AESP + "ListPendingApprovalsRequest",
     _seq("approver_id", "artifact_type", "tenant_id", "limit", "cursor")),
    # --- SPEC §3.7(5) cost
    ("§3.7(5)-RecordUsageRequest", AESP + "RecordUsageRequest",
     _seq("usage_event", "immediate_billing")),
    ("§3.7(5)-GetUsageReportRequest", AESP + "GetUsageReportRequest",
     _seq("tenant_id", "start_time", "end_time", "resource_types", "aggregation")),
    ("§3.7(5)-GetTenantCostsRequest", AESP + "GetTenantCostsRequest",
     _seq("tenant_id", "start_time", "end_time", "include_forecast")),
    # --- SPEC §3.7(6) configuration
    ("§3.7(6)-GetConfigValueRequest", AESP + "GetConfigValueRequest", _seq("key", "environment")),
    ("§3.7(6)-GetConfigValueResponse", AESP + "GetConfigValueResponse",
     _seq("success_details", "error")),
    ("§3.7(6)-ConfigValue", AESP + "ConfigValue",
     _seq("key", "value", "data_type", "sensitive", "last_updated", "updated_by")),
    ("§3.7(6)-SetConfigValueRequest", AESP + "SetConfigValueRequest",
     _seq("key", "value", "data_type", "sensitive", "justification", "requires_approval")),
    ("§3.7(6)-ConfigChangeEvent", AESP + "ConfigChangeEvent",
     _seq("key", "old_value", "new_value", "timestamp", "changed_by", "change_reason")),
]
# fmt: on


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [pytest.param(name, numbers, id=case_id) for case_id, name, numbers in FIELD_NUMBERS],
)
def test_spec_field_numbers(full_name, expected):
    message = _message(full_name)
    actual = {f.name: f.number for f in message.fields}
    wrong = {
        name: (number, actual.get(name))
        for name, number in expected.items()
        if actual.get(name) != number
    }
    assert not wrong, f"{full_name}: field -> (SPEC number, actual number): {wrong}"


def test_field_number_cases_are_unique():
    ids = [case_id for case_id, _, _ in FIELD_NUMBERS]
    assert len(ids) == len(set(ids))


C39_EXAMPLES = [
    # (response or request, field path from it, expected type name or scalar type)
    ("EvaluatePolicyResponse", "success_details.matched", FieldDescriptor.TYPE_BOOL),
    ("EvaluatePolicyResponse", "success_details.effect", FieldDescriptor.TYPE_STRING),
    ("EvaluatePolicyResponse", "success_details.decision_reason", FieldDescriptor.TYPE_STRING),
    ("SetConfigValueResponse", "success_details.value", AESP + "ConfigValue"),
    ("SetConfigValueResponse", "success_details.version", FieldDescriptor.TYPE_UINT64),
    ("SetConfigValueResponse", "success_details.approval_request_id", FieldDescriptor.TYPE_STRING),
    ("ExportAuditLogsRequest", "query", AESP + "QueryEventsRequest"),
    ("ExportAuditLogsRequest", "format", FieldDescriptor.TYPE_STRING),
    ("ExportAuditLogsResponse", "chunk", FieldDescriptor.TYPE_BYTES),
    ("ExportAuditLogsResponse", "is_final", FieldDescriptor.TYPE_BOOL),
]


@pytest.mark.parametrize(
    ("message_name", "path", "expected"),
    [pytest.param(m, p, e, id=f"C-39-{m}.{p}") for m, p, e in C39_EXAMPLES],
)
def test_c39_example_shapes(message_name, path, expected):
    message = _message(AESP + message_name)
    *parents, leaf = path.split(".")
    for part in parents:
        message = message.fields_by_name[part].message_type
    field = message.fields_by_name.get(leaf)
    assert field is not None, f"{message_name}.{path} is missing (C-39)"
    if isinstance(expected, str):
        assert field.message_type is not None and field.message_type.full_name == expected
    else:
        assert field.type == expected


# ---------------------------------------------------------------------------- (c) services

# fmt: off
SERVICES = {
    # SPEC §3.7(1)
    "EnterpriseIdentityService": [
        "CreateServiceAccount", "ListServiceAccounts", "RevokeServiceAccount", "ListPrincipals",
        "GetPrincipalDetails", "UpdatePrincipalRoles", "GetPrincipalAuditTrail",
    ],
    # SPEC §3.7(2)
    "EnterprisePolicyService": [
        "CreatePolicy", "UpdatePolicy", "DeletePolicy", "GetPolicy", "ListPolicies",
        "EvaluatePolicy", "TestPolicy", "ValidatePolicy",
    ],
    # SPEC §3.7(3)
    "EnterpriseAuditService": [
        "LogEvent", "QueryEvents", "GetComplianceReport", "ExportAuditLogs", "GetAuditStatistics",
    ],
    # SPEC §3.7(4)
    "EnterpriseGovernanceService": [
        "RequestApproval", "AdjudicateApproval", "ListPendingApprovals", "GetApprovalHistory",
        "CreateApprovalWorkflow", "UpdateApprovalWorkflow",
    ],
    # SPEC §3.7(5)
    "EnterpriseCostManagementService": [
        "RecordUsage", "GetUsageReport", "GetTenantCosts", "CreateBudget", "SetBudgetAlerts",
        "GetCostForecast", "GenerateInvoice",
    ],
    # SPEC §3.7(6)
    "EnterpriseConfigurationService": [
        "GetConfigValue", "SetConfigValue", "SubscribeToChanges", "ListConfigKeys",
        "GetConfigHistory", "RollbackConfig",
    ],
}
# fmt: on
GRPC_MODULES = {
    "EnterpriseIdentityService": identity_pb2_grpc,
    "EnterprisePolicyService": policy_pb2_grpc,
    "EnterpriseAuditService": audit_pb2_grpc,
    "EnterpriseGovernanceService": governance_pb2_grpc,
    "EnterpriseCostManagementService": cost_pb2_grpc,
    "EnterpriseConfigurationService": configuration_pb2_grpc,
}
SERVER_STREAMING = {
    ("EnterpriseAuditService", "ExportAuditLogs"): AESP + "ExportAuditLogsResponse",
    ("EnterpriseConfigurationService", "SubscribeToChanges"): AESP + "ConfigChangeEvent",
}


@pytest.mark.parametrize("service_name", list(SERVICES), ids=lambda s: f"§3.7-{s}")
def test_enterprise_service_rpcs(service_name):
    service = POOL.FindServiceByName(AESP + service_name)
    missing = [rpc for rpc in SERVICES[service_name] if rpc not in service.methods_by_name]
    assert not missing, f"{service_name} lacks RPCs of SPEC §3.7: {missing}"
    module = GRPC_MODULES[service_name]
    for attr in (
        f"{service_name}Stub",
        f"{service_name}Servicer",
        f"add_{service_name}Servicer_to_server",
    ):
        assert hasattr(module, attr), f"{module.__name__} lacks {attr}"


def test_streaming_shapes():
    for service_name in SERVICES:
        for method in POOL.FindServiceByName(AESP + service_name).methods:
            key = (service_name, method.name)
            assert not method.client_streaming, f"{key} must not be client-streaming"
            if key in SERVER_STREAMING:
                assert method.server_streaming, f"{key} must be server-streaming (SPEC §3.7)"
                assert method.output_type.full_name == SERVER_STREAMING[key]
            else:
                assert not method.server_streaming, f"{key} must be unary"


def test_audit_log_has_no_update_or_delete_rpc():
    service = POOL.FindServiceByName(AESP + "EnterpriseAuditService")
    forbidden = [
        m.name
        for m in service.methods
        if re.match(r"(Update|Delete|Remove|Purge|Edit|Modify|Replace|Truncate)", m.name)
    ]
    assert not forbidden, f"SPEC §3.7(3): the audit log has no update or delete RPC: {forbidden}"


def test_audit_merkle_rpcs():
    service = POOL.FindServiceByName(AESP + "EnterpriseAuditService")
    for rpc in ("GetInclusionProof", "GetConsistencyProof", "GetCheckpoint"):
        assert rpc in service.methods_by_name
    assert (
        _message(AESP + "GetCheckpointResponse")
        .fields_by_name["success_details"]
        .message_type.full_name
        == AESP + "Checkpoint"
    )


# ---------------------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    "method",
    [m for m in _enterprise_methods() if not m.server_streaming],
    ids=lambda m: f"C-39-{m.containing_service.name}.{m.name}",
)
def test_response_envelope(method):
    """Unary responses are oneof response_type {X success_details = 1; EnterpriseError error = 2;}."""
    response = method.output_type
    oneof = response.oneofs_by_name.get("response_type")
    assert oneof is not None, f"{response.full_name} has no oneof response_type"
    fields = {f.name: f for f in response.fields}
    assert set(fields) == {"success_details", "error"}, f"{response.full_name}: {sorted(fields)}"
    assert all(f.containing_oneof is oneof for f in fields.values())
    assert fields["success_details"].number == 1
    assert fields["success_details"].type == FieldDescriptor.TYPE_MESSAGE
    assert fields["error"].number == 2
    assert fields["error"].message_type.full_name == AESP + "EnterpriseError"


@pytest.mark.parametrize(
    "method",
    [m for m in _enterprise_methods() if not m.server_streaming],
    ids=lambda m: f"C-39-{m.containing_service.name}.{m.name}",
)
def test_paging_shapes(method):
    """Requests that page carry limit/cursor; list results are {repeated items = 1; next_cursor = 2}."""
    request = method.input_type.fields_by_name
    if "cursor" in request:
        assert request["cursor"].type == FieldDescriptor.TYPE_STRING
        assert request["limit"].type == FieldDescriptor.TYPE_UINT32
    details = method.output_type.fields_by_name["success_details"].message_type
    if "next_cursor" in details.fields_by_name:
        assert "cursor" in request, f"{method.full_name} returns pages but takes no cursor"
        items = details.fields_by_name["items"]
        assert items.number == 1 and items.is_repeated
        assert details.fields_by_name["next_cursor"].number == 2


_TIMESTAMP_NAME = re.compile(
    r"(_at|_ms|_time|_date|^timestamp|_timestamp|^last_updated|^period_start|^period_end)$"
)


def test_timestamps_are_uint64_ms():
    """C-31: every protocol timestamp (and every *_ms duration) is a uint64."""
    bad = [
        f"{m.full_name}.{f.name}"
        for m in _all_messages(ALL_MODULES)
        for f in m.fields
        if _TIMESTAMP_NAME.search(f.name) and f.type != FieldDescriptor.TYPE_UINT64
    ]
    assert not bad, f"C-31: not uint64: {bad}"


# Enums whose zero value the SPEC fixes and which C-15 keeps for compatibility.
SPEC_FIXED_ZERO_ENUMS = {
    GRID + "ComplianceLevel",
    GRID + "ErrorSeverity",
    GRID + "ErrorCategory",
    GRID + "StepType",
    GRID + "FulfillToolsResponse.Status",
    GRID + "RegisterToolsResponse.Status",
    GRID + "AuthorizeToolCallResponse.Status",
    GRID + "LogToolResultResponse.Status",
    GRID + "CapabilityUpdateResponse.Status",
}


def test_new_enums_start_with_unspecified():
    """C-15: an enum the SPEC does not pin has *_UNSPECIFIED = 0, so a default is never success."""
    bad = [
        e.full_name
        for e in _all_enums(ALL_MODULES)
        if e.full_name not in SPEC_FIXED_ZERO_ENUMS
        and not e.values_by_number[0].name.endswith("_UNSPECIFIED")
    ]
    assert not bad, f"C-15: zero value is not *_UNSPECIFIED: {bad}"


# ---------------------------------------------------------------------------- comments


def _uncommented(fd: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """Elements of one file (with source info) that have no leading comment."""
    comments = {
        tuple(loc.path): loc.leading_comments.strip() for loc in fd.source_code_info.location
    }
    missing: list[str] = []

    def need(path: tuple[int, ...], what: str) -> None:
        if not comments.get(path):
            missing.append(f"{fd.name}: {what}")

    def walk_enum(enum, path: tuple[int, ...], prefix: str) -> None:
        need(path, f"enum {prefix}{enum.name}")
        for i, value in enumerate(enum.value):
            need((*path, 2, i), f"enum value {prefix}{enum.name}.{value.name}")

    def walk_message(msg, path: tuple[int, ...], prefix: str) -> None:
        name = f"{prefix}{msg.name}"
        need(path, f"message {name}")
        for i, field in enumerate(msg.field):
            need((*path, 2, i), f"field {name}.{field.name}")
        synthetic = {f.oneof_index for f in msg.field if f.proto3_optional}
        for i, oneof in enumerate(msg.oneof_decl):
            if i not in synthetic:  # the hidden oneof of a proto3 `optional` field
                need((*path, 8, i), f"oneof {name}.{oneof.name}")
        for i, nested in enumerate(msg.nested_type):
            if not nested.options.map_entry:
                walk_message(nested, (*path, 3, i), f"{name}.")
        for i, enum in enumerate(msg.enum_type):
            walk_enum(enum, (*path, 4, i), f"{name}.")

    for i, msg in enumerate(fd.message_type):
        walk_message(msg, (4, i), "")
    for i, enum in enumerate(fd.enum_type):
        walk_enum(enum, (5, i), "")
    for i, service in enumerate(fd.service):
        need((6, i), f"service {service.name}")
        for j, method in enumerate(service.method):
            need((6, i, 2, j), f"rpc {service.name}.{method.name}")
    return missing


def test_every_proto_element_has_a_comment(tmp_path):
    """Every message, field, oneof, enum, enum value, service and RPC has a leading comment."""
    files = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))
    out = tmp_path / "set.pb"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())

    missing = [item for fd in fds.file for item in _uncommented(fd)]
    assert not missing, "elements without a leading comment:\n" + "\n".join(missing)

from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyDefinition(_message.Message):
    __slots__ = ("policy_id", "name", "description", "version", "rule", "applies_to", "enabled", "created_at", "updated_at", "created_by")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    APPLIES_TO_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    name: str
    description: str
    version: str
    rule: PolicyRule
    applies_to: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    created_at: int
    updated_at: int
    created_by: str
    def __init__(self, policy_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., rule: _Optional[_Union[PolicyRule, _Mapping]] = ..., applies_to: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ...) -> None: ...

class PolicyRule(_message.Message):
    __slots__ = ("condition", "effect", "actions", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    condition: str
    effect: str
    actions: _containers.RepeatedScalarFieldContainer[str]
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, condition: _Optional[str] = ..., effect: _Optional[str] = ..., actions: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PolicyDetails(_message.Message):
    __slots__ = ("policy", "tenant_id", "approval_request_id", "dry_run", "warnings")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyDefinition
    tenant_id: str
    approval_request_id: str
    dry_run: bool
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy: _Optional[_Union[PolicyDefinition, _Mapping]] = ..., tenant_id: _Optional[str] = ..., approval_request_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class PolicyList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[PolicyDetails]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[PolicyDetails, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class CreatePolicyRequest(_message.Message):
    __slots__ = ("policy", "tenant_id", "dry_run")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyDefinition
    tenant_id: str
    dry_run: bool
    def __init__(self, policy: _Optional[_Union[PolicyDefinition, _Mapping]] = ..., tenant_id: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CreatePolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class UpdatePolicyRequest(_message.Message):
    __slots__ = ("policy", "tenant_id", "dry_run", "justification", "expected_version")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyDefinition
    tenant_id: str
    dry_run: bool
    justification: str
    expected_version: str
    def __init__(self, policy: _Optional[_Union[PolicyDefinition, _Mapping]] = ..., tenant_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., justification: _Optional[str] = ..., expected_version: _Optional[str] = ...) -> None: ...

class UpdatePolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class DeletePolicyRequest(_message.Message):
    __slots__ = ("policy_id", "tenant_id", "justification")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    tenant_id: str
    justification: str
    def __init__(self, policy_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class PolicyDeletion(_message.Message):
    __slots__ = ("policy_id", "deleted_at", "approval_request_id")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    deleted_at: int
    approval_request_id: str
    def __init__(self, policy_id: _Optional[str] = ..., deleted_at: _Optional[int] = ..., approval_request_id: _Optional[str] = ...) -> None: ...

class DeletePolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyDeletion
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyDeletion, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("policy_id", "tenant_id", "version")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    tenant_id: str
    version: str
    def __init__(self, policy_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("tenant_id", "resource", "include_disabled", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DISABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    resource: str
    include_disabled: bool
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., resource: _Optional[str] = ..., include_disabled: _Optional[bool] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class EvaluatePolicyRequest(_message.Message):
    __slots__ = ("policy_id", "context", "principal_id", "resource", "action", "tenant_id")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    context: _containers.ScalarMap[str, str]
    principal_id: str
    resource: str
    action: str
    tenant_id: str
    def __init__(self, policy_id: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., principal_id: _Optional[str] = ..., resource: _Optional[str] = ..., action: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class PolicyEvaluation(_message.Message):
    __slots__ = ("matched", "effect", "decision_reason", "applied_policies")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    matched: bool
    effect: str
    decision_reason: str
    applied_policies: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, matched: _Optional[bool] = ..., effect: _Optional[str] = ..., decision_reason: _Optional[str] = ..., applied_policies: _Optional[_Iterable[str]] = ...) -> None: ...

class EvaluatePolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyEvaluation
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyEvaluation, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class PolicyTestCase(_message.Message):
    __slots__ = ("name", "context", "principal_id", "resource", "action", "expected_effect")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_EFFECT_FIELD_NUMBER: _ClassVar[int]
    name: str
    context: _containers.ScalarMap[str, str]
    principal_id: str
    resource: str
    action: str
    expected_effect: str
    def __init__(self, name: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., principal_id: _Optional[str] = ..., resource: _Optional[str] = ..., action: _Optional[str] = ..., expected_effect: _Optional[str] = ...) -> None: ...

class TestPolicyRequest(_message.Message):
    __slots__ = ("policy", "test_cases", "tenant_id", "replay_start_time", "replay_end_time")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TEST_CASES_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAY_START_TIME_FIELD_NUMBER: _ClassVar[int]
    REPLAY_END_TIME_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyDefinition
    test_cases: _containers.RepeatedCompositeFieldContainer[PolicyTestCase]
    tenant_id: str
    replay_start_time: int
    replay_end_time: int
    def __init__(self, policy: _Optional[_Union[PolicyDefinition, _Mapping]] = ..., test_cases: _Optional[_Iterable[_Union[PolicyTestCase, _Mapping]]] = ..., tenant_id: _Optional[str] = ..., replay_start_time: _Optional[int] = ..., replay_end_time: _Optional[int] = ...) -> None: ...

class PolicyTestResult(_message.Message):
    __slots__ = ("name", "evaluation", "passed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    evaluation: PolicyEvaluation
    passed: bool
    def __init__(self, name: _Optional[str] = ..., evaluation: _Optional[_Union[PolicyEvaluation, _Mapping]] = ..., passed: _Optional[bool] = ...) -> None: ...

class PolicyTestReport(_message.Message):
    __slots__ = ("results", "passed", "failed", "replayed_events", "replayed_denials")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_DENIALS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PolicyTestResult]
    passed: int
    failed: int
    replayed_events: int
    replayed_denials: int
    def __init__(self, results: _Optional[_Iterable[_Union[PolicyTestResult, _Mapping]]] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ..., replayed_events: _Optional[int] = ..., replayed_denials: _Optional[int] = ...) -> None: ...

class TestPolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyTestReport
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyTestReport, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ValidatePolicyRequest(_message.Message):
    __slots__ = ("policy", "tenant_id")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    policy: PolicyDefinition
    tenant_id: str
    def __init__(self, policy: _Optional[_Union[PolicyDefinition, _Mapping]] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class PolicyValidation(_message.Message):
    __slots__ = ("valid", "errors", "warnings")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    errors: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, valid: _Optional[bool] = ..., errors: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ValidatePolicyResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PolicyValidation
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PolicyValidation, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

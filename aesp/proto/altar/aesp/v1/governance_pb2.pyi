from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalDecision(_message.Message):
    __slots__ = ("approver_id", "decision", "comments", "conditions", "decided_at")
    class ConditionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVER_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    approver_id: str
    decision: str
    comments: str
    conditions: _containers.ScalarMap[str, str]
    decided_at: int
    def __init__(self, approver_id: _Optional[str] = ..., decision: _Optional[str] = ..., comments: _Optional[str] = ..., conditions: _Optional[_Mapping[str, str]] = ..., decided_at: _Optional[int] = ...) -> None: ...

class ApprovalRequest(_message.Message):
    __slots__ = ("approval_request_id", "artifact_type", "artifact_id", "artifact_data", "artifact_digest", "requester_id", "tenant_id", "justification", "required_approvers", "status", "pending_approvers", "created_at", "expires_at", "metadata", "decisions", "workflow_id", "completed_at", "min_approvals")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DATA_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PENDING_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    MIN_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    artifact_type: str
    artifact_id: str
    artifact_data: bytes
    artifact_digest: str
    requester_id: str
    tenant_id: str
    justification: str
    required_approvers: _containers.RepeatedScalarFieldContainer[str]
    status: str
    pending_approvers: _containers.RepeatedScalarFieldContainer[str]
    created_at: int
    expires_at: int
    metadata: _containers.ScalarMap[str, str]
    decisions: _containers.RepeatedCompositeFieldContainer[ApprovalDecision]
    workflow_id: str
    completed_at: int
    min_approvals: int
    def __init__(self, approval_request_id: _Optional[str] = ..., artifact_type: _Optional[str] = ..., artifact_id: _Optional[str] = ..., artifact_data: _Optional[bytes] = ..., artifact_digest: _Optional[str] = ..., requester_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ..., required_approvers: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., pending_approvers: _Optional[_Iterable[str]] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., decisions: _Optional[_Iterable[_Union[ApprovalDecision, _Mapping]]] = ..., workflow_id: _Optional[str] = ..., completed_at: _Optional[int] = ..., min_approvals: _Optional[int] = ...) -> None: ...

class ApprovalRequestList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ApprovalRequest]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[ApprovalRequest, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ApprovalWorkflow(_message.Message):
    __slots__ = ("workflow_id", "artifact_type", "required_approvers", "min_approvals", "expires_after_ms", "conditions", "tenant_id", "name", "version", "updated_at", "updated_by")
    class ConditionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    MIN_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    artifact_type: str
    required_approvers: _containers.RepeatedScalarFieldContainer[str]
    min_approvals: int
    expires_after_ms: int
    conditions: _containers.ScalarMap[str, str]
    tenant_id: str
    name: str
    version: int
    updated_at: int
    updated_by: str
    def __init__(self, workflow_id: _Optional[str] = ..., artifact_type: _Optional[str] = ..., required_approvers: _Optional[_Iterable[str]] = ..., min_approvals: _Optional[int] = ..., expires_after_ms: _Optional[int] = ..., conditions: _Optional[_Mapping[str, str]] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., updated_at: _Optional[int] = ..., updated_by: _Optional[str] = ...) -> None: ...

class RequestApprovalRequest(_message.Message):
    __slots__ = ("artifact_type", "artifact_id", "artifact_data", "requester_id", "tenant_id", "justification", "required_approvers", "expires_at", "metadata", "min_approvals")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DATA_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MIN_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    artifact_type: str
    artifact_id: str
    artifact_data: bytes
    requester_id: str
    tenant_id: str
    justification: str
    required_approvers: _containers.RepeatedScalarFieldContainer[str]
    expires_at: int
    metadata: _containers.ScalarMap[str, str]
    min_approvals: int
    def __init__(self, artifact_type: _Optional[str] = ..., artifact_id: _Optional[str] = ..., artifact_data: _Optional[bytes] = ..., requester_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ..., required_approvers: _Optional[_Iterable[str]] = ..., expires_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., min_approvals: _Optional[int] = ...) -> None: ...

class RequestApprovalResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalRequestDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalRequestDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ApprovalRequestDetails(_message.Message):
    __slots__ = ("approval_request_id", "status", "pending_approvers", "created_at", "artifact_digest", "artifact_id", "expires_at")
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PENDING_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    status: str
    pending_approvers: _containers.RepeatedScalarFieldContainer[str]
    created_at: int
    artifact_digest: str
    artifact_id: str
    expires_at: int
    def __init__(self, approval_request_id: _Optional[str] = ..., status: _Optional[str] = ..., pending_approvers: _Optional[_Iterable[str]] = ..., created_at: _Optional[int] = ..., artifact_digest: _Optional[str] = ..., artifact_id: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class AdjudicateApprovalRequest(_message.Message):
    __slots__ = ("approval_request_id", "approver_id", "decision", "comments", "conditions", "tenant_id")
    class ConditionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    approver_id: str
    decision: str
    comments: str
    conditions: _containers.ScalarMap[str, str]
    tenant_id: str
    def __init__(self, approval_request_id: _Optional[str] = ..., approver_id: _Optional[str] = ..., decision: _Optional[str] = ..., comments: _Optional[str] = ..., conditions: _Optional[_Mapping[str, str]] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class AdjudicateApprovalResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalDecisionDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalDecisionDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ApprovalDecisionDetails(_message.Message):
    __slots__ = ("final_status", "workflow_complete", "remaining_approvers")
    FINAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_APPROVERS_FIELD_NUMBER: _ClassVar[int]
    final_status: str
    workflow_complete: bool
    remaining_approvers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, final_status: _Optional[str] = ..., workflow_complete: _Optional[bool] = ..., remaining_approvers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPendingApprovalsRequest(_message.Message):
    __slots__ = ("approver_id", "artifact_type", "tenant_id", "limit", "cursor")
    APPROVER_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    approver_id: str
    artifact_type: str
    tenant_id: str
    limit: int
    cursor: str
    def __init__(self, approver_id: _Optional[str] = ..., artifact_type: _Optional[str] = ..., tenant_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListPendingApprovalsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalRequestList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalRequestList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetApprovalHistoryRequest(_message.Message):
    __slots__ = ("tenant_id", "artifact_type", "artifact_id", "approval_request_id", "start_time", "end_time", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    artifact_type: str
    artifact_id: str
    approval_request_id: str
    start_time: int
    end_time: int
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., artifact_type: _Optional[str] = ..., artifact_id: _Optional[str] = ..., approval_request_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class GetApprovalHistoryResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalRequestList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalRequestList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class CreateApprovalWorkflowRequest(_message.Message):
    __slots__ = ("workflow", "tenant_id", "justification")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    workflow: ApprovalWorkflow
    tenant_id: str
    justification: str
    def __init__(self, workflow: _Optional[_Union[ApprovalWorkflow, _Mapping]] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class CreateApprovalWorkflowResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalWorkflow
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalWorkflow, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class UpdateApprovalWorkflowRequest(_message.Message):
    __slots__ = ("workflow", "tenant_id", "justification")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    workflow: ApprovalWorkflow
    tenant_id: str
    justification: str
    def __init__(self, workflow: _Optional[_Union[ApprovalWorkflow, _Mapping]] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class UpdateApprovalWorkflowResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ApprovalWorkflow
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ApprovalWorkflow, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

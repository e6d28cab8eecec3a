from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditEvent(_message.Message):
    __slots__ = ("event_id", "timestamp_ms", "event_type", "principal_id", "tenant_id", "session_id", "resource", "action", "outcome", "source_ip", "user_agent", "metadata", "risk_score", "policy_violations", "correlation_id", "trace_id", "organization_id", "applied_policies", "prev_hash", "hash", "signature", "signing_key_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POLICIES_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    timestamp_ms: int
    event_type: str
    principal_id: str
    tenant_id: str
    session_id: str
    resource: str
    action: str
    outcome: str
    source_ip: str
    user_agent: str
    metadata: _containers.ScalarMap[str, str]
    risk_score: str
    policy_violations: _containers.RepeatedScalarFieldContainer[str]
    correlation_id: str
    trace_id: str
    organization_id: str
    applied_policies: _containers.RepeatedScalarFieldContainer[str]
    prev_hash: bytes
    hash: bytes
    signature: bytes
    signing_key_id: str
    def __init__(self, event_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., event_type: _Optional[str] = ..., principal_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., session_id: _Optional[str] = ..., resource: _Optional[str] = ..., action: _Optional[str] = ..., outcome: _Optional[str] = ..., source_ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., risk_score: _Optional[str] = ..., policy_violations: _Optional[_Iterable[str]] = ..., correlation_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., applied_policies: _Optional[_Iterable[str]] = ..., prev_hash: _Optional[bytes] = ..., hash: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signing_key_id: _Optional[str] = ...) -> None: ...

class AuditEventList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("origin", "tree_size", "root_hash", "timestamp_ms", "signature", "key_id")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    signature: bytes
    key_id: str
    def __init__(self, origin: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("leaf_index", "tree_size", "hashes")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("first_size", "second_size", "hashes")
    FIRST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    first_size: int
    second_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, first_size: _Optional[int] = ..., second_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LogEventRequest(_message.Message):
    __slots__ = ("event", "immediate_flush")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_FLUSH_FIELD_NUMBER: _ClassVar[int]
    event: AuditEvent
    immediate_flush: bool
    def __init__(self, event: _Optional[_Union[AuditEvent, _Mapping]] = ..., immediate_flush: _Optional[bool] = ...) -> None: ...

class LogEventDetails(_message.Message):
    __slots__ = ("event_id", "leaf_index", "hash", "durable")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    DURABLE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    leaf_index: int
    hash: bytes
    durable: bool
    def __init__(self, event_id: _Optional[str] = ..., leaf_index: _Optional[int] = ..., hash: _Optional[bytes] = ..., durable: _Optional[bool] = ...) -> None: ...

class LogEventResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: LogEventDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[LogEventDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class QueryEventsRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "event_types", "principal_id", "filters", "limit", "cursor")
    class FiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    event_types: _containers.RepeatedScalarFieldContainer[str]
    principal_id: str
    filters: _containers.ScalarMap[str, str]
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., event_types: _Optional[_Iterable[str]] = ..., principal_id: _Optional[str] = ..., filters: _Optional[_Mapping[str, str]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class QueryEventsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: AuditEventList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[AuditEventList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetComplianceReportRequest(_message.Message):
    __slots__ = ("tenant_id", "framework", "start_time", "end_time")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    framework: str
    start_time: int
    end_time: int
    def __init__(self, tenant_id: _Optional[str] = ..., framework: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ...) -> None: ...

class ComplianceFinding(_message.Message):
    __slots__ = ("control_id", "status", "description", "evidence_event_ids")
    CONTROL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    control_id: str
    status: str
    description: str
    evidence_event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, control_id: _Optional[str] = ..., status: _Optional[str] = ..., description: _Optional[str] = ..., evidence_event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ComplianceReport(_message.Message):
    __slots__ = ("report_id", "tenant_id", "framework", "start_time", "end_time", "generated_at", "total_events", "event_type_counts", "denied_events", "policy_violations", "findings", "checkpoint", "integrity_verified")
    class EventTypeCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORK_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    DENIED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    tenant_id: str
    framework: str
    start_time: int
    end_time: int
    generated_at: int
    total_events: int
    event_type_counts: _containers.ScalarMap[str, int]
    denied_events: int
    policy_violations: int
    findings: _containers.RepeatedCompositeFieldContainer[ComplianceFinding]
    checkpoint: Checkpoint
    integrity_verified: bool
    def __init__(self, report_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., framework: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., generated_at: _Optional[int] = ..., total_events: _Optional[int] = ..., event_type_counts: _Optional[_Mapping[str, int]] = ..., denied_events: _Optional[int] = ..., policy_violations: _Optional[int] = ..., findings: _Optional[_Iterable[_Union[ComplianceFinding, _Mapping]]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., integrity_verified: _Optional[bool] = ...) -> None: ...

class GetComplianceReportResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ComplianceReport
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ComplianceReport, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ExportAuditLogsRequest(_message.Message):
    __slots__ = ("query", "format")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    query: QueryEventsRequest
    format: str
    def __init__(self, query: _Optional[_Union[QueryEventsRequest, _Mapping]] = ..., format: _Optional[str] = ...) -> None: ...

class ExportAuditLogsResponse(_message.Message):
    __slots__ = ("chunk", "is_final", "error")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    is_final: bool
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, chunk: _Optional[bytes] = ..., is_final: _Optional[bool] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetAuditStatisticsRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ...) -> None: ...

class AuditStatistics(_message.Message):
    __slots__ = ("total_events", "event_type_counts", "outcome_counts", "unique_principals", "tree_size", "oldest_event_ms", "newest_event_ms")
    class EventTypeCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class OutcomeCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_COUNTS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_EVENT_MS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_EVENT_MS_FIELD_NUMBER: _ClassVar[int]
    total_events: int
    event_type_counts: _containers.ScalarMap[str, int]
    outcome_counts: _containers.ScalarMap[str, int]
    unique_principals: int
    tree_size: int
    oldest_event_ms: int
    newest_event_ms: int
    def __init__(self, total_events: _Optional[int] = ..., event_type_counts: _Optional[_Mapping[str, int]] = ..., outcome_counts: _Optional[_Mapping[str, int]] = ..., unique_principals: _Optional[int] = ..., tree_size: _Optional[int] = ..., oldest_event_ms: _Optional[int] = ..., newest_event_ms: _Optional[int] = ...) -> None: ...

class GetAuditStatisticsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: AuditStatistics
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[AuditStatistics, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("tenant_id", "event_id", "tree_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    event_id: str
    tree_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., event_id: _Optional[str] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProofDetails(_message.Message):
    __slots__ = ("proof", "checkpoint", "leaf_hash")
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    proof: InclusionProof
    checkpoint: Checkpoint
    leaf_hash: bytes
    def __init__(self, proof: _Optional[_Union[InclusionProof, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., leaf_hash: _Optional[bytes] = ...) -> None: ...

class GetInclusionProofResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: InclusionProofDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[InclusionProofDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("tenant_id", "first_size", "second_size")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SIZE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    first_size: int
    second_size: int
    def __init__(self, tenant_id: _Optional[str] = ..., first_size: _Optional[int] = ..., second_size: _Optional[int] = ...) -> None: ...

class ConsistencyProofDetails(_message.Message):
    __slots__ = ("proof", "checkpoint")
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    proof: ConsistencyProof
    checkpoint: Checkpoint
    def __init__(self, proof: _Optional[_Union[ConsistencyProof, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...

class GetConsistencyProofResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ConsistencyProofDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ConsistencyProofDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Checkpoint
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Checkpoint, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

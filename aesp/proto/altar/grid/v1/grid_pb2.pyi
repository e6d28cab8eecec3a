from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ComplianceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_1_CORE: _ClassVar[ComplianceLevel]
    LEVEL_2_ENHANCED: _ClassVar[ComplianceLevel]
    LEVEL_3_ENTERPRISE: _ClassVar[ComplianceLevel]

class ErrorSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INFO: _ClassVar[ErrorSeverity]
    WARNING: _ClassVar[ErrorSeverity]
    ERROR: _ClassVar[ErrorSeverity]
    CRITICAL: _ClassVar[ErrorSeverity]
    FATAL: _ClassVar[ErrorSeverity]

class ErrorCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTHORIZATION: _ClassVar[ErrorCategory]
    VALIDATION: _ClassVar[ErrorCategory]
    RUNTIME: _ClassVar[ErrorCategory]
    TRANSPORT: _ClassVar[ErrorCategory]
    CONFIGURATION: _ClassVar[ErrorCategory]

class StepType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMMEDIATE: _ClassVar[StepType]
    USER_ACTION: _ClassVar[StepType]
    ADMIN_ACTION: _ClassVar[StepType]
    ESCALATION: _ClassVar[StepType]

class RuntimeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNTIME_STATUS_UNSPECIFIED: _ClassVar[RuntimeStatus]
    UNAVAILABLE: _ClassVar[RuntimeStatus]
    RECONNECTED: _ClassVar[RuntimeStatus]
    DEGRADED: _ClassVar[RuntimeStatus]
LEVEL_1_CORE: ComplianceLevel
LEVEL_2_ENHANCED: ComplianceLevel
LEVEL_3_ENTERPRISE: ComplianceLevel
INFO: ErrorSeverity
WARNING: ErrorSeverity
ERROR: ErrorSeverity
CRITICAL: ErrorSeverity
FATAL: ErrorSeverity
AUTHORIZATION: ErrorCategory
VALIDATION: ErrorCategory
RUNTIME: ErrorCategory
TRANSPORT: ErrorCategory
CONFIGURATION: ErrorCategory
IMMEDIATE: StepType
USER_ACTION: StepType
ADMIN_ACTION: StepType
ESCALATION: StepType
RUNTIME_STATUS_UNSPECIFIED: RuntimeStatus
UNAVAILABLE: RuntimeStatus
RECONNECTED: RuntimeStatus
DEGRADED: RuntimeStatus

class AnnounceRuntime(_message.Message):
    __slots__ = ("runtime_id", "language", "version", "capabilities", "metadata", "compliance_level", "optional_features", "protocol_version", "supported_versions", "version_preferences", "correlation_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class VersionPreferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    OPTIONAL_FEATURES_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    language: str
    version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    compliance_level: ComplianceLevel
    optional_features: _containers.RepeatedScalarFieldContainer[str]
    protocol_version: str
    supported_versions: _containers.RepeatedScalarFieldContainer[str]
    version_preferences: _containers.ScalarMap[str, str]
    correlation_id: str
    def __init__(self, runtime_id: _Optional[str] = ..., language: _Optional[str] = ..., version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., compliance_level: _Optional[_Union[ComplianceLevel, str]] = ..., optional_features: _Optional[_Iterable[str]] = ..., protocol_version: _Optional[str] = ..., supported_versions: _Optional[_Iterable[str]] = ..., version_preferences: _Optional[_Mapping[str, str]] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class AnnounceRuntimeResponse(_message.Message):
    __slots__ = ("connection_id", "available_contracts", "correlation_id", "negotiated_level", "enabled_features", "feature_config", "negotiated_version", "available_features", "version_config")
    class FeatureConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class VersionConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_VERSION_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    VERSION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    available_contracts: _containers.RepeatedScalarFieldContainer[str]
    correlation_id: str
    negotiated_level: ComplianceLevel
    enabled_features: _containers.RepeatedScalarFieldContainer[str]
    feature_config: _containers.ScalarMap[str, str]
    negotiated_version: str
    available_features: _containers.RepeatedScalarFieldContainer[str]
    version_config: _containers.ScalarMap[str, str]
    def __init__(self, connection_id: _Optional[str] = ..., available_contracts: _Optional[_Iterable[str]] = ..., correlation_id: _Optional[str] = ..., negotiated_level: _Optional[_Union[ComplianceLevel, str]] = ..., enabled_features: _Optional[_Iterable[str]] = ..., feature_config: _Optional[_Mapping[str, str]] = ..., negotiated_version: _Optional[str] = ..., available_features: _Optional[_Iterable[str]] = ..., version_config: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FulfillTools(_message.Message):
    __slots__ = ("session_id", "tool_names", "runtime_id", "correlation_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    runtime_id: str
    correlation_id: str
    def __init__(self, session_id: _Optional[str] = ..., tool_names: _Optional[_Iterable[str]] = ..., runtime_id: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class FulfillToolsResponse(_message.Message):
    __slots__ = ("status", "fulfilled_tools", "rejected_tools", "errors", "session_id", "correlation_id")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SUCCESS: _ClassVar[FulfillToolsResponse.Status]
        PARTIAL_SUCCESS: _ClassVar[FulfillToolsResponse.Status]
        FAILURE: _ClassVar[FulfillToolsResponse.Status]
    SUCCESS: FulfillToolsResponse.Status
    PARTIAL_SUCCESS: FulfillToolsResponse.Status
    FAILURE: FulfillToolsResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FULFILLED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    status: FulfillToolsResponse.Status
    fulfilled_tools: _containers.RepeatedScalarFieldContainer[str]
    rejected_tools: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedCompositeFieldContainer[EnhancedError]
    session_id: str
    correlation_id: str
    def __init__(self, status: _Optional[_Union[FulfillToolsResponse.Status, str]] = ..., fulfilled_tools: _Optional[_Iterable[str]] = ..., rejected_tools: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[_Union[EnhancedError, _Mapping]]] = ..., session_id: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("invocation_id", "correlation_id", "call", "session_id", "timeout_ms")
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    invocation_id: str
    correlation_id: str
    call: _adm_pb2.FunctionCall
    session_id: str
    timeout_ms: int
    def __init__(self, invocation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., call: _Optional[_Union[_adm_pb2.FunctionCall, _Mapping]] = ..., session_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ("invocation_id", "correlation_id", "result")
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    invocation_id: str
    correlation_id: str
    result: _adm_pb2.ToolResult
    def __init__(self, invocation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., result: _Optional[_Union[_adm_pb2.ToolResult, _Mapping]] = ...) -> None: ...

class StreamChunk(_message.Message):
    __slots__ = ("invocation_id", "chunk_id", "payload", "is_final", "error", "correlation_id", "enhanced_error")
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    ENHANCED_ERROR_FIELD_NUMBER: _ClassVar[int]
    invocation_id: str
    chunk_id: int
    payload: bytes
    is_final: bool
    error: Error
    correlation_id: str
    enhanced_error: EnhancedError
    def __init__(self, invocation_id: _Optional[str] = ..., chunk_id: _Optional[int] = ..., payload: _Optional[bytes] = ..., is_final: _Optional[bool] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., correlation_id: _Optional[str] = ..., enhanced_error: _Optional[_Union[EnhancedError, _Mapping]] = ...) -> None: ...

class TraceContext(_message.Message):
    __slots__ = ("trace_id", "span_id", "parent_span_id", "baggage", "trace_flags")
    class BaggageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    BAGGAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    span_id: str
    parent_span_id: str
    baggage: _containers.ScalarMap[str, str]
    trace_flags: int
    def __init__(self, trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., parent_span_id: _Optional[str] = ..., baggage: _Optional[_Mapping[str, str]] = ..., trace_flags: _Optional[int] = ...) -> None: ...

class TracedToolCall(_message.Message):
    __slots__ = ("invocation_id", "correlation_id", "call", "trace_context")
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    invocation_id: str
    correlation_id: str
    call: _adm_pb2.FunctionCall
    trace_context: TraceContext
    def __init__(self, invocation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., call: _Optional[_Union[_adm_pb2.FunctionCall, _Mapping]] = ..., trace_context: _Optional[_Union[TraceContext, _Mapping]] = ...) -> None: ...

class CreateSession(_message.Message):
    __slots__ = ("suggested_session_id", "metadata", "ttl_seconds", "security_context")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUGGESTED_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    suggested_session_id: str
    metadata: _containers.ScalarMap[str, str]
    ttl_seconds: int
    security_context: SecurityContext
    def __init__(self, suggested_session_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., ttl_seconds: _Optional[int] = ..., security_context: _Optional[_Union[SecurityContext, _Mapping]] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ("session_id", "expires_at_ms", "error")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    expires_at_ms: int
    error: EnhancedError
    def __init__(self, session_id: _Optional[str] = ..., expires_at_ms: _Optional[int] = ..., error: _Optional[_Union[EnhancedError, _Mapping]] = ...) -> None: ...

class DestroySession(_message.Message):
    __slots__ = ("session_id", "force")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    force: bool
    def __init__(self, session_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DestroySessionResponse(_message.Message):
    __slots__ = ("destroyed", "error")
    DESTROYED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    destroyed: bool
    error: EnhancedError
    def __init__(self, destroyed: _Optional[bool] = ..., error: _Optional[_Union[EnhancedError, _Mapping]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("message", "type")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    message: str
    type: str
    def __init__(self, message: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class SecurityContext(_message.Message):
    __slots__ = ("principal_id", "tenant_id", "claims")
    class ClaimsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    tenant_id: str
    claims: _containers.ScalarMap[str, str]
    def __init__(self, principal_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., claims: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EnhancedError(_message.Message):
    __slots__ = ("message", "type", "details", "correlation_id", "timestamp", "retry_allowed", "retry_after_ms", "max_retries", "remediation_steps", "documentation_url", "support_reference", "component", "session_id", "runtime_id", "tool_name", "severity", "category", "tags", "execution_time_ms", "performance_metrics", "trace_id", "caused_by", "tenant_id", "principal_id", "security_implications", "compliance_impact", "escalation_required")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PerformanceMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RETRY_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTATION_URL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_METRICS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSED_BY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_IMPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_IMPACT_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    message: str
    type: str
    details: _containers.ScalarMap[str, str]
    correlation_id: str
    timestamp: int
    retry_allowed: bool
    retry_after_ms: int
    max_retries: int
    remediation_steps: _containers.RepeatedScalarFieldContainer[str]
    documentation_url: str
    support_reference: str
    component: str
    session_id: str
    runtime_id: str
    tool_name: str
    severity: ErrorSeverity
    category: ErrorCategory
    tags: _containers.RepeatedScalarFieldContainer[str]
    execution_time_ms: int
    performance_metrics: _containers.ScalarMap[str, str]
    trace_id: str
    caused_by: _containers.RepeatedCompositeFieldContainer[EnhancedError]
    tenant_id: str
    principal_id: str
    security_implications: _containers.RepeatedScalarFieldContainer[str]
    compliance_impact: _containers.RepeatedScalarFieldContainer[str]
    escalation_required: bool
    def __init__(self, message: _Optional[str] = ..., type: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., correlation_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., retry_allowed: _Optional[bool] = ..., retry_after_ms: _Optional[int] = ..., max_retries: _Optional[int] = ..., remediation_steps: _Optional[_Iterable[str]] = ..., documentation_url: _Optional[str] = ..., support_reference: _Optional[str] = ..., component: _Optional[str] = ..., session_id: _Optional[str] = ..., runtime_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., severity: _Optional[_Union[ErrorSeverity, str]] = ..., category: _Optional[_Union[ErrorCategory, str]] = ..., tags: _Optional[_Iterable[str]] = ..., execution_time_ms: _Optional[int] = ..., performance_metrics: _Optional[_Mapping[str, str]] = ..., trace_id: _Optional[str] = ..., caused_by: _Optional[_Iterable[_Union[EnhancedError, _Mapping]]] = ..., tenant_id: _Optional[str] = ..., principal_id: _Optional[str] = ..., security_implications: _Optional[_Iterable[str]] = ..., compliance_impact: _Optional[_Iterable[str]] = ..., escalation_required: _Optional[bool] = ...) -> None: ...

class RemediationStep(_message.Message):
    __slots__ = ("step_id", "description", "type", "estimated_time_minutes", "prerequisites", "automation_script", "validation_commands")
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    PREREQUISITES_FIELD_NUMBER: _ClassVar[int]
    AUTOMATION_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    step_id: str
    description: str
    type: StepType
    estimated_time_minutes: int
    prerequisites: _containers.RepeatedScalarFieldContainer[str]
    automation_script: str
    validation_commands: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, step_id: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[StepType, str]] = ..., estimated_time_minutes: _Optional[int] = ..., prerequisites: _Optional[_Iterable[str]] = ..., automation_script: _Optional[str] = ..., validation_commands: _Optional[_Iterable[str]] = ...) -> None: ...

class EscalationLevel(_message.Message):
    __slots__ = ("level_name", "contact_method", "response_time_minutes", "required_information")
    LEVEL_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_METHOD_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_INFORMATION_FIELD_NUMBER: _ClassVar[int]
    level_name: str
    contact_method: str
    response_time_minutes: int
    required_information: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, level_name: _Optional[str] = ..., contact_method: _Optional[str] = ..., response_time_minutes: _Optional[int] = ..., required_information: _Optional[_Iterable[str]] = ...) -> None: ...

class EscalationPath(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[EscalationLevel]
    def __init__(self, levels: _Optional[_Iterable[_Union[EscalationLevel, _Mapping]]] = ...) -> None: ...

class SuccessCriterion(_message.Message):
    __slots__ = ("criterion", "threshold_ms", "validation_command")
    CRITERION_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_MS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_COMMAND_FIELD_NUMBER: _ClassVar[int]
    criterion: str
    threshold_ms: int
    validation_command: str
    def __init__(self, criterion: _Optional[str] = ..., threshold_ms: _Optional[int] = ..., validation_command: _Optional[str] = ...) -> None: ...

class RemediationGuidance(_message.Message):
    __slots__ = ("immediate_actions", "user_actions", "system_actions", "escalation", "success_criteria")
    IMMEDIATE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    USER_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    immediate_actions: _containers.RepeatedCompositeFieldContainer[RemediationStep]
    user_actions: _containers.RepeatedCompositeFieldContainer[RemediationStep]
    system_actions: _containers.RepeatedCompositeFieldContainer[RemediationStep]
    escalation: EscalationPath
    success_criteria: _containers.RepeatedCompositeFieldContainer[SuccessCriterion]
    def __init__(self, immediate_actions: _Optional[_Iterable[_Union[RemediationStep, _Mapping]]] = ..., user_actions: _Optional[_Iterable[_Union[RemediationStep, _Mapping]]] = ..., system_actions: _Optional[_Iterable[_Union[RemediationStep, _Mapping]]] = ..., escalation: _Optional[_Union[EscalationPath, _Mapping]] = ..., success_criteria: _Optional[_Iterable[_Union[SuccessCriterion, _Mapping]]] = ...) -> None: ...

class RegisterToolsRequest(_message.Message):
    __slots__ = ("runtime_id", "tools", "session_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    tools: _containers.RepeatedCompositeFieldContainer[_adm_pb2.Tool]
    session_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, runtime_id: _Optional[str] = ..., tools: _Optional[_Iterable[_Union[_adm_pb2.Tool, _Mapping]]] = ..., session_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterToolsResponse(_message.Message):
    __slots__ = ("status", "accepted_tools", "rejected_tools", "errors", "session_id")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SUCCESS: _ClassVar[RegisterToolsResponse.Status]
        PARTIAL_SUCCESS: _ClassVar[RegisterToolsResponse.Status]
        FAILURE: _ClassVar[RegisterToolsResponse.Status]
    SUCCESS: RegisterToolsResponse.Status
    PARTIAL_SUCCESS: RegisterToolsResponse.Status
    FAILURE: RegisterToolsResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    status: RegisterToolsResponse.Status
    accepted_tools: _containers.RepeatedScalarFieldContainer[str]
    rejected_tools: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedCompositeFieldContainer[EnhancedError]
    session_id: str
    def __init__(self, status: _Optional[_Union[RegisterToolsResponse.Status, str]] = ..., accepted_tools: _Optional[_Iterable[str]] = ..., rejected_tools: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[_Union[EnhancedError, _Mapping]]] = ..., session_id: _Optional[str] = ...) -> None: ...

class AuthorizeToolCallRequest(_message.Message):
    __slots__ = ("session_id", "security_context", "call", "correlation_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    security_context: SecurityContext
    call: _adm_pb2.FunctionCall
    correlation_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, session_id: _Optional[str] = ..., security_context: _Optional[_Union[SecurityContext, _Mapping]] = ..., call: _Optional[_Union[_adm_pb2.FunctionCall, _Mapping]] = ..., correlation_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AuthorizeToolCallResponse(_message.Message):
    __slots__ = ("status", "invocation_id", "correlation_id", "error", "authorization_ttl_ms", "execution_context")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        APPROVED: _ClassVar[AuthorizeToolCallResponse.Status]
        DENIED: _ClassVar[AuthorizeToolCallResponse.Status]
        PENDING: _ClassVar[AuthorizeToolCallResponse.Status]
    APPROVED: AuthorizeToolCallResponse.Status
    DENIED: AuthorizeToolCallResponse.Status
    PENDING: AuthorizeToolCallResponse.Status
    class ExecutionContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    status: AuthorizeToolCallResponse.Status
    invocation_id: str
    correlation_id: str
    error: EnhancedError
    authorization_ttl_ms: int
    execution_context: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[_Union[AuthorizeToolCallResponse.Status, str]] = ..., invocation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., error: _Optional[_Union[EnhancedError, _Mapping]] = ..., authorization_ttl_ms: _Optional[int] = ..., execution_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LogToolResultRequest(_message.Message):
    __slots__ = ("session_id", "invocation_id", "correlation_id", "result", "execution_time_ms", "execution_metadata", "timestamp")
    class ExecutionMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    invocation_id: str
    correlation_id: str
    result: _adm_pb2.ToolResult
    execution_time_ms: int
    execution_metadata: _containers.ScalarMap[str, str]
    timestamp: int
    def __init__(self, session_id: _Optional[str] = ..., invocation_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., result: _Optional[_Union[_adm_pb2.ToolResult, _Mapping]] = ..., execution_time_ms: _Optional[int] = ..., execution_metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class LogToolResultResponse(_message.Message):
    __slots__ = ("status", "correlation_id", "error")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LOGGED: _ClassVar[LogToolResultResponse.Status]
        REJECTED: _ClassVar[LogToolResultResponse.Status]
    LOGGED: LogToolResultResponse.Status
    REJECTED: LogToolResultResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    status: LogToolResultResponse.Status
    correlation_id: str
    error: EnhancedError
    def __init__(self, status: _Optional[_Union[LogToolResultResponse.Status, str]] = ..., correlation_id: _Optional[str] = ..., error: _Optional[_Union[EnhancedError, _Mapping]] = ...) -> None: ...

class CapabilityUpdate(_message.Message):
    __slots__ = ("runtime_id", "new_features", "deprecated_features", "reason", "effective_timestamp")
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_FEATURES_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    new_features: _containers.RepeatedScalarFieldContainer[str]
    deprecated_features: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    effective_timestamp: int
    def __init__(self, runtime_id: _Optional[str] = ..., new_features: _Optional[_Iterable[str]] = ..., deprecated_features: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., effective_timestamp: _Optional[int] = ...) -> None: ...

class CapabilityUpdateResponse(_message.Message):
    __slots__ = ("status", "accepted_features", "rejected_features", "errors", "next_review_timestamp")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACCEPTED: _ClassVar[CapabilityUpdateResponse.Status]
        PARTIAL: _ClassVar[CapabilityUpdateResponse.Status]
        REJECTED: _ClassVar[CapabilityUpdateResponse.Status]
    ACCEPTED: CapabilityUpdateResponse.Status
    PARTIAL: CapabilityUpdateResponse.Status
    REJECTED: CapabilityUpdateResponse.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_REVIEW_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    status: CapabilityUpdateResponse.Status
    accepted_features: _containers.RepeatedScalarFieldContainer[str]
    rejected_features: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedCompositeFieldContainer[EnhancedError]
    next_review_timestamp: int
    def __init__(self, status: _Optional[_Union[CapabilityUpdateResponse.Status, str]] = ..., accepted_features: _Optional[_Iterable[str]] = ..., rejected_features: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[_Union[EnhancedError, _Mapping]]] = ..., next_review_timestamp: _Optional[int] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("runtime_id", "timestamp_ms", "load")
    class LoadEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    timestamp_ms: int
    load: _containers.ScalarMap[str, str]
    def __init__(self, runtime_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., load: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CancelInvocation(_message.Message):
    __slots__ = ("invocation_id", "reason")
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    invocation_id: str
    reason: str
    def __init__(self, invocation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RuntimeStatusNotification(_message.Message):
    __slots__ = ("runtime_id", "status", "message", "timestamp_ms", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    status: RuntimeStatus
    message: str
    timestamp_ms: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, runtime_id: _Optional[str] = ..., status: _Optional[_Union[RuntimeStatus, str]] = ..., message: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

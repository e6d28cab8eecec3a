from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PrincipalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRINCIPAL_TYPE_UNSPECIFIED: _ClassVar[PrincipalType]
    USER: _ClassVar[PrincipalType]
    SERVICE_ACCOUNT: _ClassVar[PrincipalType]
    SYSTEM_ACCOUNT: _ClassVar[PrincipalType]
PRINCIPAL_TYPE_UNSPECIFIED: PrincipalType
USER: PrincipalType
SERVICE_ACCOUNT: PrincipalType
SYSTEM_ACCOUNT: PrincipalType

class EnterpriseSecurityContext(_message.Message):
    __slots__ = ("principal_id", "tenant_id", "claims", "organization_id", "business_unit", "roles", "permissions", "security_clearance", "data_classification", "session_expires_at", "policy_context")
    class ClaimsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PolicyContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_UNIT_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CLEARANCE_FIELD_NUMBER: _ClassVar[int]
    DATA_CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    SESSION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    POLICY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    tenant_id: str
    claims: _containers.ScalarMap[str, str]
    organization_id: str
    business_unit: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    permissions: _containers.RepeatedScalarFieldContainer[str]
    security_clearance: str
    data_classification: str
    session_expires_at: int
    policy_context: _containers.ScalarMap[str, str]
    def __init__(self, principal_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., claims: _Optional[_Mapping[str, str]] = ..., organization_id: _Optional[str] = ..., business_unit: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., permissions: _Optional[_Iterable[str]] = ..., security_clearance: _Optional[str] = ..., data_classification: _Optional[str] = ..., session_expires_at: _Optional[int] = ..., policy_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EnterpriseToolContract(_message.Message):
    __slots__ = ("name", "contract_version", "description", "parameters", "return_type", "supports_streaming", "security_classification", "required_roles", "required_permissions", "approval_status", "approved_by", "approved_at", "compliance_tags", "risk_assessment", "governance_metadata", "content_digest")
    class GovernanceMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    RETURN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_ROLES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    RISK_ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    GOVERNANCE_METADATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    contract_version: str
    description: str
    parameters: bytes
    return_type: bytes
    supports_streaming: bool
    security_classification: str
    required_roles: _containers.RepeatedScalarFieldContainer[str]
    required_permissions: _containers.RepeatedScalarFieldContainer[str]
    approval_status: str
    approved_by: str
    approved_at: int
    compliance_tags: _containers.RepeatedScalarFieldContainer[str]
    risk_assessment: str
    governance_metadata: _containers.ScalarMap[str, str]
    content_digest: str
    def __init__(self, name: _Optional[str] = ..., contract_version: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[bytes] = ..., return_type: _Optional[bytes] = ..., supports_streaming: _Optional[bool] = ..., security_classification: _Optional[str] = ..., required_roles: _Optional[_Iterable[str]] = ..., required_permissions: _Optional[_Iterable[str]] = ..., approval_status: _Optional[str] = ..., approved_by: _Optional[str] = ..., approved_at: _Optional[int] = ..., compliance_tags: _Optional[_Iterable[str]] = ..., risk_assessment: _Optional[str] = ..., governance_metadata: _Optional[_Mapping[str, str]] = ..., content_digest: _Optional[str] = ...) -> None: ...

class CertificateIdentity(_message.Message):
    __slots__ = ("subject_dn", "issuer_dn", "serial_number", "fingerprint_sha256", "not_before_ms", "not_after_ms", "san_dns", "san_uris", "spiffe_id")
    SUBJECT_DN_FIELD_NUMBER: _ClassVar[int]
    ISSUER_DN_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    SAN_DNS_FIELD_NUMBER: _ClassVar[int]
    SAN_URIS_FIELD_NUMBER: _ClassVar[int]
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    subject_dn: str
    issuer_dn: str
    serial_number: str
    fingerprint_sha256: str
    not_before_ms: int
    not_after_ms: int
    san_dns: _containers.RepeatedScalarFieldContainer[str]
    san_uris: _containers.RepeatedScalarFieldContainer[str]
    spiffe_id: str
    def __init__(self, subject_dn: _Optional[str] = ..., issuer_dn: _Optional[str] = ..., serial_number: _Optional[str] = ..., fingerprint_sha256: _Optional[str] = ..., not_before_ms: _Optional[int] = ..., not_after_ms: _Optional[int] = ..., san_dns: _Optional[_Iterable[str]] = ..., san_uris: _Optional[_Iterable[str]] = ..., spiffe_id: _Optional[str] = ...) -> None: ...

class ResourceLimits(_message.Message):
    __slots__ = ("max_memory_mb", "max_cpu_pct", "max_concurrent_invocations")
    MAX_MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    MAX_CPU_PCT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    max_memory_mb: int
    max_cpu_pct: int
    max_concurrent_invocations: int
    def __init__(self, max_memory_mb: _Optional[int] = ..., max_cpu_pct: _Optional[int] = ..., max_concurrent_invocations: _Optional[int] = ...) -> None: ...

class SecurityRequirements(_message.Message):
    __slots__ = ("requires_encryption", "requires_mtls", "min_tls_version", "allowed_cipher_suites", "requires_certificate_pinning")
    REQUIRES_ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_MTLS_FIELD_NUMBER: _ClassVar[int]
    MIN_TLS_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CIPHER_SUITES_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_CERTIFICATE_PINNING_FIELD_NUMBER: _ClassVar[int]
    requires_encryption: bool
    requires_mtls: bool
    min_tls_version: str
    allowed_cipher_suites: _containers.RepeatedScalarFieldContainer[str]
    requires_certificate_pinning: bool
    def __init__(self, requires_encryption: _Optional[bool] = ..., requires_mtls: _Optional[bool] = ..., min_tls_version: _Optional[str] = ..., allowed_cipher_suites: _Optional[_Iterable[str]] = ..., requires_certificate_pinning: _Optional[bool] = ...) -> None: ...

class EnterpriseRuntimeAnnouncement(_message.Message):
    __slots__ = ("runtime_id", "language", "version", "capabilities", "certificate_identity", "runtime_attestation", "declared_contracts", "metadata", "compliance_level", "protocol_version", "supported_versions", "version_preferences", "optional_features", "correlation_id", "tenant_id", "security_zone", "deployment_environment", "certifications", "compliance_metadata", "resource_limits", "security_requirements")
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
    class ComplianceMetadataEntry(_message.Message):
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
    CERTIFICATE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    DECLARED_CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    OPTIONAL_FEATURES_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_METADATA_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    runtime_id: str
    language: str
    version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    certificate_identity: CertificateIdentity
    runtime_attestation: bytes
    declared_contracts: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    compliance_level: _grid_pb2.ComplianceLevel
    protocol_version: str
    supported_versions: _containers.RepeatedScalarFieldContainer[str]
    version_preferences: _containers.ScalarMap[str, str]
    optional_features: _containers.RepeatedScalarFieldContainer[str]
    correlation_id: str
    tenant_id: str
    security_zone: str
    deployment_environment: str
    certifications: _containers.RepeatedScalarFieldContainer[str]
    compliance_metadata: _containers.ScalarMap[str, str]
    resource_limits: ResourceLimits
    security_requirements: SecurityRequirements
    def __init__(self, runtime_id: _Optional[str] = ..., language: _Optional[str] = ..., version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., certificate_identity: _Optional[_Union[CertificateIdentity, _Mapping]] = ..., runtime_attestation: _Optional[bytes] = ..., declared_contracts: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., compliance_level: _Optional[_Union[_grid_pb2.ComplianceLevel, str]] = ..., protocol_version: _Optional[str] = ..., supported_versions: _Optional[_Iterable[str]] = ..., version_preferences: _Optional[_Mapping[str, str]] = ..., optional_features: _Optional[_Iterable[str]] = ..., correlation_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., security_zone: _Optional[str] = ..., deployment_environment: _Optional[str] = ..., certifications: _Optional[_Iterable[str]] = ..., compliance_metadata: _Optional[_Mapping[str, str]] = ..., resource_limits: _Optional[_Union[ResourceLimits, _Mapping]] = ..., security_requirements: _Optional[_Union[SecurityRequirements, _Mapping]] = ...) -> None: ...

class EnterpriseError(_message.Message):
    __slots__ = ("code", "message", "details", "tenant_id", "principal_id", "correlation_id", "retry_after_ms", "security_implications", "compliance_impact", "remediation_steps", "escalation_required")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_IMPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_IMPACT_FIELD_NUMBER: _ClassVar[int]
    REMEDIATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    details: _containers.ScalarMap[str, str]
    tenant_id: str
    principal_id: str
    correlation_id: str
    retry_after_ms: int
    security_implications: _containers.RepeatedScalarFieldContainer[str]
    compliance_impact: _containers.RepeatedScalarFieldContainer[str]
    remediation_steps: _containers.RepeatedScalarFieldContainer[str]
    escalation_required: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., tenant_id: _Optional[str] = ..., principal_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., retry_after_ms: _Optional[int] = ..., security_implications: _Optional[_Iterable[str]] = ..., compliance_impact: _Optional[_Iterable[str]] = ..., remediation_steps: _Optional[_Iterable[str]] = ..., escalation_required: _Optional[bool] = ...) -> None: ...

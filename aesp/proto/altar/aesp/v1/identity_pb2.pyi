from aesp.proto.altar.aesp.v1 import audit_pb2 as _audit_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Principal(_message.Message):
    __slots__ = ("principal_id", "principal_type", "display_name", "tenant_id", "roles", "active", "created_at", "source", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    principal_type: _enterprise_pb2.PrincipalType
    display_name: str
    tenant_id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    created_at: int
    source: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, principal_id: _Optional[str] = ..., principal_type: _Optional[_Union[_enterprise_pb2.PrincipalType, str]] = ..., display_name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., created_at: _Optional[int] = ..., source: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ServiceAccount(_message.Message):
    __slots__ = ("service_account_id", "name", "description", "tenant_id", "roles", "permissions", "created_at", "expires_at", "created_by", "revoked", "revoked_at", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    service_account_id: str
    name: str
    description: str
    tenant_id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    permissions: _containers.RepeatedScalarFieldContainer[str]
    created_at: int
    expires_at: int
    created_by: str
    revoked: bool
    revoked_at: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, service_account_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., tenant_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., permissions: _Optional[_Iterable[str]] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., created_by: _Optional[str] = ..., revoked: _Optional[bool] = ..., revoked_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateServiceAccountRequest(_message.Message):
    __slots__ = ("name", "description", "tenant_id", "roles", "permissions", "expires_at", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tenant_id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    permissions: _containers.RepeatedScalarFieldContainer[str]
    expires_at: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tenant_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., permissions: _Optional[_Iterable[str]] = ..., expires_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateServiceAccountResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ServiceAccountDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ServiceAccountDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ServiceAccountDetails(_message.Message):
    __slots__ = ("service_account_id", "api_key", "secret", "created_at", "expires_at")
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    service_account_id: str
    api_key: str
    secret: str
    created_at: int
    expires_at: int
    def __init__(self, service_account_id: _Optional[str] = ..., api_key: _Optional[str] = ..., secret: _Optional[str] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ...) -> None: ...

class ListServiceAccountsRequest(_message.Message):
    __slots__ = ("tenant_id", "include_revoked", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    include_revoked: bool
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ServiceAccountList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ServiceAccount]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[ServiceAccount, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListServiceAccountsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ServiceAccountList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ServiceAccountList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class RevokeServiceAccountRequest(_message.Message):
    __slots__ = ("service_account_id", "tenant_id", "reason")
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    service_account_id: str
    tenant_id: str
    reason: str
    def __init__(self, service_account_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeServiceAccountResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ServiceAccount
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ServiceAccount, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ListPrincipalsRequest(_message.Message):
    __slots__ = ("tenant_id", "principal_type", "include_inactive", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    principal_type: _enterprise_pb2.PrincipalType
    include_inactive: bool
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., principal_type: _Optional[_Union[_enterprise_pb2.PrincipalType, str]] = ..., include_inactive: _Optional[bool] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class PrincipalList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Principal]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Principal, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListPrincipalsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PrincipalList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PrincipalList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetPrincipalDetailsRequest(_message.Message):
    __slots__ = ("principal_id", "include_permissions", "include_audit_summary", "tenant_id")
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_AUDIT_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    include_permissions: bool
    include_audit_summary: bool
    tenant_id: str
    def __init__(self, principal_id: _Optional[str] = ..., include_permissions: _Optional[bool] = ..., include_audit_summary: _Optional[bool] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class PrincipalAuditSummary(_message.Message):
    __slots__ = ("total_events", "denied_events", "failed_events", "last_event_at", "event_type_counts")
    class EventTypeCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    DENIED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    FAILED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    total_events: int
    denied_events: int
    failed_events: int
    last_event_at: int
    event_type_counts: _containers.ScalarMap[str, int]
    def __init__(self, total_events: _Optional[int] = ..., denied_events: _Optional[int] = ..., failed_events: _Optional[int] = ..., last_event_at: _Optional[int] = ..., event_type_counts: _Optional[_Mapping[str, int]] = ...) -> None: ...

class PrincipalDetails(_message.Message):
    __slots__ = ("principal", "effective_permissions", "audit_summary", "direct_permissions")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DIRECT_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    principal: Principal
    effective_permissions: _containers.RepeatedScalarFieldContainer[str]
    audit_summary: PrincipalAuditSummary
    direct_permissions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[_Union[Principal, _Mapping]] = ..., effective_permissions: _Optional[_Iterable[str]] = ..., audit_summary: _Optional[_Union[PrincipalAuditSummary, _Mapping]] = ..., direct_permissions: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPrincipalDetailsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: PrincipalDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[PrincipalDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class UpdatePrincipalRolesRequest(_message.Message):
    __slots__ = ("principal_id", "tenant_id", "roles_to_add", "roles_to_remove", "justification")
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_TO_ADD_FIELD_NUMBER: _ClassVar[int]
    ROLES_TO_REMOVE_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    tenant_id: str
    roles_to_add: _containers.RepeatedScalarFieldContainer[str]
    roles_to_remove: _containers.RepeatedScalarFieldContainer[str]
    justification: str
    def __init__(self, principal_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., roles_to_add: _Optional[_Iterable[str]] = ..., roles_to_remove: _Optional[_Iterable[str]] = ..., justification: _Optional[str] = ...) -> None: ...

class UpdatePrincipalRolesResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Principal
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Principal, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetPrincipalAuditTrailRequest(_message.Message):
    __slots__ = ("principal_id", "tenant_id", "start_time", "end_time", "event_types", "limit", "cursor")
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    principal_id: str
    tenant_id: str
    start_time: int
    end_time: int
    event_types: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    cursor: str
    def __init__(self, principal_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., event_types: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class GetPrincipalAuditTrailResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: _audit_pb2.AuditEventList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[_audit_pb2.AuditEventList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

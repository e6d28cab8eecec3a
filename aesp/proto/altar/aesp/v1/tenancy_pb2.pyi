from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tenant(_message.Message):
    __slots__ = ("tenant_id", "display_name", "status", "created_at", "updated_at", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    display_name: str
    status: str
    created_at: int
    updated_at: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, tenant_id: _Optional[str] = ..., display_name: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("tenant_id", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class TenantList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: TenantList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[TenantList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetTenantRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetTenantResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Tenant
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Tenant, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class SuspendTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "justification")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    justification: str
    def __init__(self, tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class SuspendTenantResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Tenant
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Tenant, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ResumeTenantRequest(_message.Message):
    __slots__ = ("tenant_id", "justification")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    justification: str
    def __init__(self, tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class ResumeTenantResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Tenant
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Tenant, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class UpdateTenantMetadataRequest(_message.Message):
    __slots__ = ("tenant_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, tenant_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpdateTenantMetadataResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Tenant
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Tenant, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

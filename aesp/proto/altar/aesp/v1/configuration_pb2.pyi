from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigValue(_message.Message):
    __slots__ = ("key", "value", "data_type", "sensitive", "last_updated", "updated_by", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    data_type: str
    sensitive: bool
    last_updated: int
    updated_by: str
    version: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., data_type: _Optional[str] = ..., sensitive: _Optional[bool] = ..., last_updated: _Optional[int] = ..., updated_by: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ConfigChangeEvent(_message.Message):
    __slots__ = ("key", "old_value", "new_value", "timestamp", "changed_by", "change_reason", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    old_value: str
    new_value: str
    timestamp: int
    changed_by: str
    change_reason: str
    version: int
    def __init__(self, key: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ..., timestamp: _Optional[int] = ..., changed_by: _Optional[str] = ..., change_reason: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ConfigVersion(_message.Message):
    __slots__ = ("value", "change_reason", "approval_request_id", "rollback_of_version")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_VERSION_FIELD_NUMBER: _ClassVar[int]
    value: ConfigValue
    change_reason: str
    approval_request_id: str
    rollback_of_version: int
    def __init__(self, value: _Optional[_Union[ConfigValue, _Mapping]] = ..., change_reason: _Optional[str] = ..., approval_request_id: _Optional[str] = ..., rollback_of_version: _Optional[int] = ...) -> None: ...

class GetConfigValueRequest(_message.Message):
    __slots__ = ("key", "environment", "tenant_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    key: str
    environment: str
    tenant_id: str
    def __init__(self, key: _Optional[str] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class GetConfigValueResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ConfigValue
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ConfigValue, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class SetConfigValueRequest(_message.Message):
    __slots__ = ("key", "value", "data_type", "sensitive", "justification", "requires_approval", "environment", "tenant_id", "expected_version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    data_type: str
    sensitive: bool
    justification: str
    requires_approval: bool
    environment: str
    tenant_id: str
    expected_version: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., data_type: _Optional[str] = ..., sensitive: _Optional[bool] = ..., justification: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class SetConfigValueDetails(_message.Message):
    __slots__ = ("value", "version", "approval_request_id")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    value: ConfigValue
    version: int
    approval_request_id: str
    def __init__(self, value: _Optional[_Union[ConfigValue, _Mapping]] = ..., version: _Optional[int] = ..., approval_request_id: _Optional[str] = ...) -> None: ...

class SetConfigValueResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: SetConfigValueDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[SetConfigValueDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class SubscribeToChangesRequest(_message.Message):
    __slots__ = ("keys", "environment", "tenant_id")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    environment: str
    tenant_id: str
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class ListConfigKeysRequest(_message.Message):
    __slots__ = ("prefix", "environment", "tenant_id", "limit", "cursor")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    environment: str
    tenant_id: str
    limit: int
    cursor: str
    def __init__(self, prefix: _Optional[str] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ConfigKeyList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfigValue]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[ConfigValue, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListConfigKeysResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ConfigKeyList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ConfigKeyList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetConfigHistoryRequest(_message.Message):
    __slots__ = ("key", "environment", "tenant_id", "limit", "cursor")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    key: str
    environment: str
    tenant_id: str
    limit: int
    cursor: str
    def __init__(self, key: _Optional[str] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ConfigHistory(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConfigVersion]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[ConfigVersion, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetConfigHistoryResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: ConfigHistory
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[ConfigHistory, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class RollbackConfigRequest(_message.Message):
    __slots__ = ("key", "target_version", "environment", "tenant_id", "justification")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TARGET_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    key: str
    target_version: int
    environment: str
    tenant_id: str
    justification: str
    def __init__(self, key: _Optional[str] = ..., target_version: _Optional[int] = ..., environment: _Optional[str] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class RollbackConfigResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: SetConfigValueDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[SetConfigValueDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

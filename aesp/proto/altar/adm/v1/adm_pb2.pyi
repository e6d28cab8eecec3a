from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResultStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_STATUS_UNSPECIFIED: _ClassVar[ResultStatus]
    SUCCESS: _ClassVar[ResultStatus]
    ERROR: _ClassVar[ResultStatus]
RESULT_STATUS_UNSPECIFIED: ResultStatus
SUCCESS: ResultStatus
ERROR: ResultStatus

class FunctionDeclaration(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: bytes
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[bytes] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("function_declarations",)
    FUNCTION_DECLARATIONS_FIELD_NUMBER: _ClassVar[int]
    function_declarations: _containers.RepeatedCompositeFieldContainer[FunctionDeclaration]
    def __init__(self, function_declarations: _Optional[_Iterable[_Union[FunctionDeclaration, _Mapping]]] = ...) -> None: ...

class FunctionCall(_message.Message):
    __slots__ = ("call_id", "name", "args")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    name: str
    args: bytes
    def __init__(self, call_id: _Optional[str] = ..., name: _Optional[str] = ..., args: _Optional[bytes] = ...) -> None: ...

class ErrorObject(_message.Message):
    __slots__ = ("message", "type")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    message: str
    type: str
    def __init__(self, message: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class ToolResult(_message.Message):
    __slots__ = ("call_id", "name", "status", "content", "error")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    name: str
    status: ResultStatus
    content: bytes
    error: ErrorObject
    def __init__(self, call_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[ResultStatus, str]] = ..., content: _Optional[bytes] = ..., error: _Optional[_Union[ErrorObject, _Mapping]] = ...) -> None: ...

class ToolManifest(_message.Message):
    __slots__ = ("manifest_version", "contracts", "global_metadata")
    class GlobalMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MANIFEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_METADATA_FIELD_NUMBER: _ClassVar[int]
    manifest_version: str
    contracts: _containers.RepeatedScalarFieldContainer[bytes]
    global_metadata: _containers.ScalarMap[str, str]
    def __init__(self, manifest_version: _Optional[str] = ..., contracts: _Optional[_Iterable[bytes]] = ..., global_metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

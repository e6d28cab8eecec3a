from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectOpen(_message.Message):
    __slots__ = ("connection_id", "runtime_id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    runtime_id: str
    def __init__(self, connection_id: _Optional[str] = ..., runtime_id: _Optional[str] = ...) -> None: ...

class RuntimeMessage(_message.Message):
    __slots__ = ("open", "result", "chunk", "heartbeat")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    open: ConnectOpen
    result: _grid_pb2.ToolResult
    chunk: _grid_pb2.StreamChunk
    heartbeat: _grid_pb2.Heartbeat
    def __init__(self, open: _Optional[_Union[ConnectOpen, _Mapping]] = ..., result: _Optional[_Union[_grid_pb2.ToolResult, _Mapping]] = ..., chunk: _Optional[_Union[_grid_pb2.StreamChunk, _Mapping]] = ..., heartbeat: _Optional[_Union[_grid_pb2.Heartbeat, _Mapping]] = ...) -> None: ...

class ContractsUpdate(_message.Message):
    __slots__ = ("available_contracts", "manifest_version")
    AVAILABLE_CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    available_contracts: _containers.RepeatedScalarFieldContainer[str]
    manifest_version: int
    def __init__(self, available_contracts: _Optional[_Iterable[str]] = ..., manifest_version: _Optional[int] = ...) -> None: ...

class HostMessage(_message.Message):
    __slots__ = ("call", "cancel", "heartbeat", "contracts", "status")
    CALL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    call: _grid_pb2.ToolCall
    cancel: _grid_pb2.CancelInvocation
    heartbeat: _grid_pb2.Heartbeat
    contracts: ContractsUpdate
    status: _grid_pb2.RuntimeStatusNotification
    def __init__(self, call: _Optional[_Union[_grid_pb2.ToolCall, _Mapping]] = ..., cancel: _Optional[_Union[_grid_pb2.CancelInvocation, _Mapping]] = ..., heartbeat: _Optional[_Union[_grid_pb2.Heartbeat, _Mapping]] = ..., contracts: _Optional[_Union[ContractsUpdate, _Mapping]] = ..., status: _Optional[_Union[_grid_pb2.RuntimeStatusNotification, _Mapping]] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ("session_id", "correlation_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    correlation_id: str
    def __init__(self, session_id: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class ListToolsResponse(_message.Message):
    __slots__ = ("tools", "error", "correlation_id")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[_enterprise_pb2.EnterpriseToolContract]
    error: _grid_pb2.EnhancedError
    correlation_id: str
    def __init__(self, tools: _Optional[_Iterable[_Union[_enterprise_pb2.EnterpriseToolContract, _Mapping]]] = ..., error: _Optional[_Union[_grid_pb2.EnhancedError, _Mapping]] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class ToolCallResponse(_message.Message):
    __slots__ = ("result", "error")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result: _grid_pb2.ToolResult
    error: _grid_pb2.EnhancedError
    def __init__(self, result: _Optional[_Union[_grid_pb2.ToolResult, _Mapping]] = ..., error: _Optional[_Union[_grid_pb2.EnhancedError, _Mapping]] = ...) -> None: ...

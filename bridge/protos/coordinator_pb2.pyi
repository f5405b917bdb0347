from bridge.protos import channel_pb2 as _channel_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterRequest(_message.Message):
    __slots__ = ("task", "host", "port", "dataset_length", "round", "solo")
    TASK_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DATASET_LENGTH_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    SOLO_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    host: str
    port: int
    dataset_length: int
    round: int
    solo: bool
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., dataset_length: _Optional[int] = ..., round: _Optional[int] = ..., solo: bool = ...) -> None: ...

class Abort(_message.Message):
    __slots__ = ("failed_task", "reason")
    FAILED_TASK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    failed_task: _channel_pb2.TaskId
    reason: str
    def __init__(self, failed_task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class Finish(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterInfo(_message.Message):
    __slots__ = ("complete", "missing", "worker_addresses", "ps_addresses", "worker_dataset_lengths", "round", "abort")
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    WORKER_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    PS_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    WORKER_DATASET_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    missing: _containers.RepeatedCompositeFieldContainer[_channel_pb2.TaskId]
    worker_addresses: _containers.RepeatedScalarFieldContainer[str]
    ps_addresses: _containers.RepeatedScalarFieldContainer[str]
    worker_dataset_lengths: _containers.RepeatedScalarFieldContainer[int]
    round: int
    abort: Abort
    def __init__(self, complete: bool = ..., missing: _Optional[_Iterable[_Union[_channel_pb2.TaskId, _Mapping]]] = ..., worker_addresses: _Optional[_Iterable[str]] = ..., ps_addresses: _Optional[_Iterable[str]] = ..., worker_dataset_lengths: _Optional[_Iterable[int]] = ..., round: _Optional[int] = ..., abort: _Optional[_Union[Abort, _Mapping]] = ...) -> None: ...

class DoneRequest(_message.Message):
    __slots__ = ("task", "success", "error_summary", "serve_only", "round")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SERVE_ONLY_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    success: bool
    error_summary: str
    serve_only: bool
    round: int
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., success: bool = ..., error_summary: _Optional[str] = ..., serve_only: bool = ..., round: _Optional[int] = ...) -> None: ...

class DoneAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServeOnlyRequest(_message.Message):
    __slots__ = ("task", "round")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    round: int
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., round: _Optional[int] = ...) -> None: ...

class ServeOnlyAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("task", "round")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    round: int
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., round: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("round", "abort", "finish")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    round: int
    abort: Abort
    finish: Finish
    def __init__(self, round: _Optional[int] = ..., abort: _Optional[_Union[Abort, _Mapping]] = ..., finish: _Optional[_Union[Finish, _Mapping]] = ...) -> None: ...

class LogMetricsRequest(_message.Message):
    __slots__ = ("task", "points", "round")
    TASK_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    points: _containers.RepeatedCompositeFieldContainer[_channel_pb2.MetricPoint]
    round: int
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., points: _Optional[_Iterable[_Union[_channel_pb2.MetricPoint, _Mapping]]] = ..., round: _Optional[int] = ...) -> None: ...

class LogMetricsAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

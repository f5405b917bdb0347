from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    CHIEF: _ClassVar[Role]
    WORKER: _ClassVar[Role]
    PS: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
CHIEF: Role
WORKER: Role
PS: Role

class TaskId(_message.Message):
    __slots__ = ("role", "index", "subtask", "attempt")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SUBTASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    role: Role
    index: int
    subtask: int
    attempt: int
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., index: _Optional[int] = ..., subtask: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RecordChunk(_message.Message):
    __slots__ = ("data", "last")
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    last: bool
    def __init__(self, data: _Optional[bytes] = ..., last: bool = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "dtype", "data", "value_offsets", "row_offsets", "nulls")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VALUE_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    ROW_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: str
    data: bytes
    value_offsets: bytes
    row_offsets: bytes
    nulls: bytes
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ..., value_offsets: _Optional[bytes] = ..., row_offsets: _Optional[bytes] = ..., nulls: _Optional[bytes] = ...) -> None: ...

class ColumnBatch(_message.Message):
    __slots__ = ("num_rows", "columns")
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    num_rows: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    def __init__(self, num_rows: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class EndOfInput(_message.Message):
    __slots__ = ("record_count",)
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    record_count: int
    def __init__(self, record_count: _Optional[int] = ...) -> None: ...

class InputMessage(_message.Message):
    __slots__ = ("batch", "chunk", "end", "columns")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    batch: RecordBatch
    chunk: RecordChunk
    end: EndOfInput
    columns: ColumnBatch
    def __init__(self, batch: _Optional[_Union[RecordBatch, _Mapping]] = ..., chunk: _Optional[_Union[RecordChunk, _Mapping]] = ..., end: _Optional[_Union[EndOfInput, _Mapping]] = ..., columns: _Optional[_Union[ColumnBatch, _Mapping]] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("task", "exception_type", "message", "traceback")
    TASK_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    exception_type: str
    message: str
    traceback: str
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ..., exception_type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class TaskSuccess(_message.Message):
    __slots__ = ("records_read", "records_written")
    RECORDS_READ_FIELD_NUMBER: _ClassVar[int]
    RECORDS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    records_read: int
    records_written: int
    def __init__(self, records_read: _Optional[int] = ..., records_written: _Optional[int] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("name", "value", "step", "time", "integral")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    INTEGRAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    step: int
    time: float
    integral: bool
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., step: _Optional[int] = ..., time: _Optional[float] = ..., integral: bool = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ...) -> None: ...

class OutputMessage(_message.Message):
    __slots__ = ("batch", "chunk", "success", "error", "columns", "metrics")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    batch: RecordBatch
    chunk: RecordChunk
    success: TaskSuccess
    error: TaskError
    columns: ColumnBatch
    metrics: Metrics
    def __init__(self, batch: _Optional[_Union[RecordBatch, _Mapping]] = ..., chunk: _Optional[_Union[RecordChunk, _Mapping]] = ..., success: _Optional[_Union[TaskSuccess, _Mapping]] = ..., error: _Optional[_Union[TaskError, _Mapping]] = ..., columns: _Optional[_Union[ColumnBatch, _Mapping]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: TaskId
    def __init__(self, task: _Optional[_Union[TaskId, _Mapping]] = ...) -> None: ...

class PushAck(_message.Message):
    __slots__ = ("records_received",)
    RECORDS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    records_received: int
    def __init__(self, records_received: _Optional[int] = ...) -> None: ...

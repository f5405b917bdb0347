from bridge.protos import channel_pb2 as _channel_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_KIND_UNSPECIFIED: _ClassVar[TaskKind]
    BATCH: _ClassVar[TaskKind]
    STREAM: _ClassVar[TaskKind]
    TRAIN: _ClassVar[TaskKind]
    PREDICT: _ClassVar[TaskKind]
TASK_KIND_UNSPECIFIED: TaskKind
BATCH: TaskKind
STREAM: TaskKind
TRAIN: TaskKind
PREDICT: TaskKind

class PredictSpec(_message.Message):
    __slots__ = ("model_path", "signature_def_key", "graph_def_tag", "input_signature_defs", "output_signature_defs", "batch_size", "tensor_format")
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_DEF_KEY_FIELD_NUMBER: _ClassVar[int]
    GRAPH_DEF_TAG_FIELD_NUMBER: _ClassVar[int]
    INPUT_SIGNATURE_DEFS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SIGNATURE_DEFS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    model_path: str
    signature_def_key: str
    graph_def_tag: str
    input_signature_defs: _containers.RepeatedScalarFieldContainer[str]
    output_signature_defs: _containers.RepeatedScalarFieldContainer[str]
    batch_size: int
    tensor_format: str
    def __init__(self, model_path: _Optional[str] = ..., signature_def_key: _Optional[str] = ..., graph_def_tag: _Optional[str] = ..., input_signature_defs: _Optional[_Iterable[str]] = ..., output_signature_defs: _Optional[_Iterable[str]] = ..., batch_size: _Optional[int] = ..., tensor_format: _Optional[str] = ...) -> None: ...

class ScriptArgs(_message.Message):
    __slots__ = ("args",)
    ARGS_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, args: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("task", "kind", "channel_address", "token", "work_dir", "main_script", "user_params_json", "input_schema", "output_schema", "num_workers", "num_ps", "coordinator_address", "intra_op_parallelism", "rpc_timeout_s", "operator_name", "properties", "coordinator_token", "rendezvous_timeout_s", "predict", "task_timeout_s", "script_args")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORK_DIR_FIELD_NUMBER: _ClassVar[int]
    MAIN_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    USER_PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    NUM_PS_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INTRA_OP_PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    RPC_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RENDEZVOUS_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PREDICT_FIELD_NUMBER: _ClassVar[int]
    TASK_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_ARGS_FIELD_NUMBER: _ClassVar[int]
    task: _channel_pb2.TaskId
    kind: TaskKind
    channel_address: str
    token: str
    work_dir: str
    main_script: str
    user_params_json: str
    input_schema: str
    output_schema: str
    num_workers: int
    num_ps: int
    coordinator_address: str
    intra_op_parallelism: int
    rpc_timeout_s: float
    operator_name: str
    properties: _containers.ScalarMap[str, str]
    coordinator_token: str
    rendezvous_timeout_s: float
    predict: PredictSpec
    task_timeout_s: float
    script_args: ScriptArgs
    def __init__(self, task: _Optional[_Union[_channel_pb2.TaskId, _Mapping]] = ..., kind: _Optional[_Union[TaskKind, str]] = ..., channel_address: _Optional[str] = ..., token: _Optional[str] = ..., work_dir: _Optional[str] = ..., main_script: _Optional[str] = ..., user_params_json: _Optional[str] = ..., input_schema: _Optional[str] = ..., output_schema: _Optional[str] = ..., num_workers: _Optional[int] = ..., num_ps: _Optional[int] = ..., coordinator_address: _Optional[str] = ..., intra_op_parallelism: _Optional[int] = ..., rpc_timeout_s: _Optional[float] = ..., operator_name: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ..., coordinator_token: _Optional[str] = ..., rendezvous_timeout_s: _Optional[float] = ..., predict: _Optional[_Union[PredictSpec, _Mapping]] = ..., task_timeout_s: _Optional[float] = ..., script_args: _Optional[_Union[ScriptArgs, _Mapping]] = ...) -> None: ...

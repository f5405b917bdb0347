"""The Flink side of akdl: Alink-style operators over PyFlink tables.

Runs in the Flink driver (the user's PyFlink program) and, for the operators' Python functions,
in Flink's Python workers. Never imports TensorFlow or ``akdl``.

``from operators import *`` brings every operator class and the environment helpers
(`use_local_env`, `get_batch_table_env`, ...), as ``from pyalink.alink import *`` does.
"""

from operators import base as _base
from operators import env as _env
from operators import params as _params
from operators import sources as _sources
from operators.base import *  # noqa: F403
from operators.env import *  # noqa: F403
from operators.params import *  # noqa: F403
from operators.sources import *  # noqa: F403

__all__ = [*_params.__all__, *_env.__all__, *_base.__all__, *_sources.__all__]

# TF operators are exported below
from operators import tensorflow_op as _tensorflow_op
from operators.tensorflow_op import *  # noqa: F403,E402

__all__ += _tensorflow_op.__all__

from operators import predict_op as _predict_op  # noqa: E402
from operators.predict_op import *  # noqa: F403,E402

__all__ += _predict_op.__all__

from operators import sql_predict as _sql_predict  # noqa: E402
from operators.sql_predict import *  # noqa: F403,E402

__all__ += _sql_predict.__all__

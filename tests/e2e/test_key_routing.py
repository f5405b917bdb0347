"""The keys of a TF stage really land on distinct subtasks (real Flink jobs, P = 1..8)."""

from __future__ import annotations

import pytest
from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction

from operators import MemSourceBatchOp
from operators._stage_graph import MAX_PARALLELISM, keyed_input, subtask_keys

pytestmark = pytest.mark.e2e


class _Probe(KeyedProcessFunction):
    """Emits (subtask index, key, is_control) for every element."""

    def open(self, runtime_context):
        self.index = runtime_context.get_index_of_this_subtask()

    def process_element(self, value, ctx):
        key = ctx.get_current_key()
        key = key[0] if isinstance(key, Row) else key
        return [Row(self.index, int(key), bool(value[0]))]


@pytest.mark.parametrize("parallelism", range(1, 9))
def test_each_subtask_owns_exactly_its_key(local_env, parallelism):
    source = MemSourceBatchOp([(i,) for i in range(200)], "x long")
    table = source.getTable()
    t_env = table._t_env
    keyed = keyed_input(t_env, table, parallelism, range(parallelism))
    probed = keyed.process(
        _Probe(), output_type=Types.ROW_NAMED(["subtask", "k", "control"],
                                              [Types.INT(), Types.INT(), Types.BOOLEAN()])
    ).set_parallelism(parallelism).set_max_parallelism(MAX_PARALLELISM)
    rows = [tuple(r) for r in t_env.from_data_stream(probed).execute().collect()]
    keys = subtask_keys(parallelism)
    assert len(set(keys)) == parallelism
    controls = sorted((s, k) for s, k, control in rows if control)
    assert controls == [(i, keys[i]) for i in range(parallelism)]
    data = [(s, k) for s, k, control in rows if not control]
    assert len(data) == 200
    assert all(k == keys[s] for s, k in data)  # one key per subtask, never a second one

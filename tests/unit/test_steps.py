"""common_steps: the step count every worker can take over uneven shards."""

import pytest

from bridge.errors import ParamError
from bridge.steps import common_steps


def test_uneven_shards_take_the_smallest_ceiling():
    # 1000 rows over 3 workers: 334/333/333 -> ceil(333/10) = 34 on every worker.
    assert common_steps([334, 333, 333], 10) == 34


def test_drop_remainder_takes_the_smallest_floor():
    assert common_steps([334, 333, 333], 10, drop_remainder=True) == 33


def test_exact_multiples_agree_with_and_without_drop_remainder():
    assert common_steps([40, 40], 8) == common_steps([40, 40], 8, drop_remainder=True) == 5


def test_worker_without_rows_means_zero_steps():
    assert common_steps([1, 0, 0], 4) == 0
    assert common_steps([1000, 0], 4, drop_remainder=True) == 0


def test_shard_smaller_than_a_batch():
    assert common_steps([3, 100], 64) == 1
    assert common_steps([3, 100], 64, drop_remainder=True) == 0


def test_single_worker_and_batch_of_one():
    assert common_steps([7], 1) == 7


def test_large_counts_have_no_float_rounding():
    big = 2**60 + 1
    assert common_steps([big], 2) == 2**59 + 1


@pytest.mark.parametrize(
    ("lengths", "batch", "param"),
    [([10], 0, "batch_size"), ([10], -3, "batch_size"), ([], 4, "dataset_lengths"),
     ([5, -1], 4, "dataset_lengths")],
)
def test_bad_arguments_raise_param_error(lengths, batch, param):
    with pytest.raises(ParamError) as info:
        common_steps(lengths, batch)
    assert info.value.param == param

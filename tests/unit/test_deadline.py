"""Deadline with a fake clock: no real sleeps."""

import pytest

from bridge.deadline import Deadline
from bridge.errors import AkdlError, DeadlineExceeded


def test_remaining_counts_down_and_never_goes_negative(clock):
    deadline = Deadline(10, "input", clock=clock)
    assert deadline.remaining_s() == 10
    clock.advance(4)
    assert deadline.remaining_s() == 6
    clock.advance(100)
    assert deadline.remaining_s() == 0.0


def test_slice_is_the_shorter_of_step_and_time_left(clock):
    deadline = Deadline(1.0, "input", clock=clock)
    assert deadline.slice_s(0.25) == 0.25
    clock.advance(0.9)
    assert deadline.slice_s(0.25) == pytest.approx(0.1)
    clock.advance(1)
    assert deadline.slice_s(0.25) == 0.0


def test_expires_exactly_at_the_end(clock):
    deadline = Deadline(5, "input", clock=clock)
    clock.advance(4.999)
    assert not deadline.expired()
    deadline.check()  # does not raise
    clock.advance(0.001)
    assert deadline.expired()


def test_starts_counting_at_construction(clock):
    clock.advance(50)
    deadline = Deadline(5, "input", clock=clock)
    assert deadline.remaining_s() == 5
    assert not deadline.expired()


def test_check_raises_with_what_was_awaited_missing_and_setting(clock):
    deadline = Deadline(30, "all 4 workers to register", "rpcTimeoutS", clock=clock)
    clock.advance(31)
    with pytest.raises(DeadlineExceeded) as info:
        deadline.check(missing="worker:2, ps:0")
    err = info.value
    assert isinstance(err, AkdlError) and isinstance(err, TimeoutError)
    assert (err.waited_for, err.timeout_s, err.missing, err.setting) == (
        "all 4 workers to register", 30, "worker:2, ps:0", "rpcTimeoutS"
    )
    assert str(err) == (
        "timed out after 30s waiting for all 4 workers to register; "
        "still missing: worker:2, ps:0; raise the limit with rpcTimeoutS"
    )


def test_message_leaves_out_empty_parts(clock):
    deadline = Deadline(0.5, "the chief", clock=clock)
    clock.advance(1)
    with pytest.raises(DeadlineExceeded) as info:
        deadline.check()
    assert str(info.value) == "timed out after 0.5s waiting for the chief"


def test_error_can_be_built_before_expiry(clock):
    err = Deadline(2, "output", "rpcTimeoutS", clock=clock).error("the ack")
    assert str(err) == (
        "timed out after 2s waiting for output; still missing: the ack; "
        "raise the limit with rpcTimeoutS"
    )


def test_zero_timeout_is_expired_at_once(clock):
    deadline = Deadline(0, "nothing", clock=clock)
    assert deadline.expired()
    with pytest.raises(DeadlineExceeded, match="after 0s"):
        deadline.check()


def test_no_timeout_never_expires(clock):
    deadline = Deadline(None, "the job", clock=clock)
    clock.advance(1e9)
    assert deadline.remaining_s() is None
    assert not deadline.expired()
    assert deadline.slice_s(0.1) == 0.1
    deadline.check()  # does not raise

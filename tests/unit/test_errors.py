"""Error texts: exit statuses explained, timeouts with their stacks."""

import pytest

from bridge.errors import TaskProcessExitedError, TaskTimeoutError, explain_exit


@pytest.mark.parametrize("code", [-9, 137])
def test_sigkill_is_named_with_the_memory_hint(code):
    text = explain_exit(code)
    assert "signal 9 (SIGKILL)" in text and "possibly killed for memory (OOM)" in text
    assert ("exit code 137" in text) == (code == 137)


@pytest.mark.parametrize(("code", "name"), [(-15, "SIGTERM"), (139, "SIGSEGV"), (-6, "SIGABRT")])
def test_other_signals_are_named_without_the_memory_hint(code, name):
    text = explain_exit(code)
    assert name in text and "OOM" not in text


@pytest.mark.parametrize("code", [0, 1, 70, 128])
def test_plain_exit_codes_stay_codes(code):
    assert explain_exit(code) == f"exited with code {code}"


def test_the_exit_error_carries_the_task_signal_and_last_lines():
    error = TaskProcessExitedError("worker:0 (subtask 1)", -9, "[worker:0] step 3", "Op")
    text = str(error)
    assert text.startswith("Op TF process worker:0 (subtask 1) was killed by signal 9 (SIGKILL)")
    assert text.endswith("[worker:0] step 3")


def test_the_timeout_error_names_the_parameter_and_the_stacks():
    error = TaskTimeoutError("Op chief:0 (subtask 0)", 20, 'File "main.py", line 3 in main\n')
    assert "taskTimeoutS = 20 s" in str(error) and 'line 3 in main' in str(error)

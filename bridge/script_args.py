"""``scriptArgs``: parsing, checking and filling the arguments of an unmodified script.

Pure Python, used on both sides: the Flink driver parses and checks the parameter when the
operator is linked (`parse_script_args`, `check_script_args`), and the TF process fills the
placeholders with its own values (`fill_script_args`) before it runs the script as
``__main__``.

A placeholder is ``{name}`` with ``name`` an identifier; every other brace is kept as it is, so
a JSON argument such as ``'{"lr": 0.1}'`` needs no escaping. ``{{name}}`` gives the literal text
``{name}``. Which placeholders an operator offers depends on its task kind:

=================  =====  ======  =====
placeholder        batch  stream  train
=================  =====  ======  =====
dataset_file       ✓              ✓
dataset_length     ✓              ✓
work_dir           ✓      ✓       ✓
saved_model_dir                   ✓
task_type          ✓      ✓       ✓
task_index         ✓      ✓       ✓
num_workers        ✓      ✓       ✓
=================  =====  ======  =====
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.name_lists import parse_string_list
from bridge.protos import task_spec_pb2

__all__ = [
    "PLACEHOLDERS",
    "check_script_args",
    "fill_script_args",
    "offered_placeholders",
    "parse_script_args",
    "placeholders_in",
]

#: Every placeholder name, in the order the docs list them.
PLACEHOLDERS = (
    "dataset_file",
    "dataset_length",
    "work_dir",
    "saved_model_dir",
    "task_type",
    "task_index",
    "num_workers",
)

# Group 1: an escaped placeholder ({{name}}); group 2: a placeholder ({name}).
_PATTERN = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")

_SPOOLED_ONLY = ("dataset_file", "dataset_length")
_TRAIN_ONLY = ("saved_model_dir",)

# Why a known placeholder is missing from a kind, and what to do instead.
_WHY_NOT = {
    "dataset_file": "a stream operator's input is read live, never spooled to a file; read it "
                    "with akdl.current_task_config().dataset_fn()",
    "dataset_length": "a stream has no length; read it with "
                      "akdl.current_task_config().dataset_fn()",
    "saved_model_dir": "only the train operators (TFTableModelTrainBatchOp) take a SavedModel "
                       "from the script; export it there, or write rows with "
                       "akdl.current_task_config().output_writer",
}


def parse_script_args(value: Any) -> list[str]:
    """The argument list from any accepted spelling of ``scriptArgs``.

    Args:
        value: a list or tuple of strings; a JSON list of strings (a string starting with
            ``[``); or one command-line string, split as a POSIX shell would
            (``"--epochs 2 --data {dataset_file}"``).

    Returns:
        A new list of strings (``sys.argv[1:]`` of the script, placeholders unfilled).

    Raises:
        TypeError: neither a string nor a list/tuple, or an element is not a string.
        ValueError: an invalid JSON list, or a command line with unbalanced quotes.
    """
    return parse_string_list(value, _split_command_line, "a command-line string")


def _split_command_line(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"is not a valid command line ({exc}): {text!r}") from None


def offered_placeholders(kind: int) -> tuple[str, ...]:
    """The placeholders a task of this ``task_spec_pb2.TaskKind`` fills."""
    names = list(PLACEHOLDERS)
    if kind == task_spec_pb2.STREAM:
        names = [n for n in names if n not in _SPOOLED_ONLY]
    if kind != task_spec_pb2.TRAIN:
        names = [n for n in names if n not in _TRAIN_ONLY]
    return tuple(names)


def placeholders_in(arg: str) -> list[str]:
    """The placeholder names in one argument, in order (escaped ``{{name}}`` excluded)."""
    return [m.group(2) for m in _PATTERN.finditer(arg) if m.group(2)]


def _braced(names: Sequence[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


def check_script_args(args: Sequence[str], kind: int) -> None:
    """Check that every placeholder in ``args`` is one a task of ``kind`` fills.

    Raises:
        ValueError: a phrase for `bridge.errors.ParamError`, naming the first bad placeholder,
            the argument it is in, why it is not available, and the valid placeholders.
    """
    offered = offered_placeholders(kind)
    for arg in args:
        for name in placeholders_in(arg):
            if name in offered:
                continue
            valid = f"the placeholders here are {_braced(offered)}"
            if name in _WHY_NOT:
                raise ValueError(
                    f"uses the placeholder {{{name}}} (in {arg!r}), which this operator does not "
                    f"offer: {_WHY_NOT[name]}; {valid}"
                )
            raise ValueError(
                f"uses the unknown placeholder {{{name}}} (in {arg!r}); {valid} (write "
                f"{{{{{name}}}}} for the literal text {{{name}}})"
            )


def fill_script_args(args: Sequence[str], values: Mapping[str, Any]) -> list[str]:
    """``args`` with their placeholders filled.

    Every ``{name}`` becomes ``str(values[name])``, and every ``{{name}}`` the text ``{name}``.

    Raises:
        ValueError: a placeholder has no value (the driver's check should have caught it).
    """

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "{" + escaped + "}"
        if name not in values:
            raise ValueError(
                f"scriptArgs: no value for the placeholder {{{name}}}; this task fills "
                f"{_braced(sorted(values))}"
            )
        return str(values[name])

    return [_PATTERN.sub(replace, arg) for arg in args]

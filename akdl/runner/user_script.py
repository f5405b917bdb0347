"""Loading the user's main script and checking its ``main`` (runs in the TF process)."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from bridge.errors import UserScriptError

__all__ = ["find_script", "load_main"]


def find_script(script: str, work_dir: str) -> str:
    """The path of the main script ``script`` in ``work_dir``.

    Raises:
        UserScriptError: it is not there; the message lists the files that are.
    """
    path = os.path.join(work_dir, script)
    if not os.path.isfile(path):
        present = sorted(os.listdir(work_dir))
        raise UserScriptError(
            f"main script {script!r} was not found among the user files {present}; "
            "list it in userFiles and name it in mainScriptFile"
        )
    return path


def load_main(script: str, work_dir: str) -> Callable[[Any], Any]:
    """Import ``script`` from ``work_dir`` and return its ``main(task_config)``.

    Raises:
        UserScriptError: the script is missing, or has no ``main``, or ``main`` cannot take
            exactly one positional argument.
    """
    path = find_script(script, work_dir)
    if work_dir not in sys.path:
        sys.path.insert(0, work_dir)
    module_name = os.path.splitext(os.path.basename(script))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserScriptError(f"main script {script!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    main = getattr(module, "main", None)
    if main is None or not callable(main):
        raise UserScriptError(
            f"main script {script!r} does not define a function 'main(task_config)'"
        )
    try:
        inspect.signature(main).bind(object())
    except TypeError as exc:
        raise UserScriptError(
            f"'main' in {script!r} must take exactly one argument (task_config), "
            f"but its signature is main{inspect.signature(main)}"
        ) from exc
    except ValueError:
        pass  # builtins without a signature: let the call decide
    return main

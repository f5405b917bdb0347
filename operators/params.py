"""Operator parameters, declared once per operator class.

Runs in the Flink driver (the user's PyFlink program). Pure Python: no PyFlink, no TensorFlow.

An operator lists its parameters as `Param` objects in ``PARAMS``. `WithParams` turns that one
declaration into every spelling a user may write, Alink's and the Pythonic one::

    class MyOp(WithParams):
        PARAMS = (Param("numWorkers", int, default=1, validate=at_least(1)),)

    MyOp().setNumWorkers(2).getNumWorkers()   # camelCase setter (returns self) and getter
    MyOp(num_workers=2)                       # snake_case keyword
    MyOp(numWorkers=2)                        # camelCase keyword

Parameters of base classes are inherited and merged along the MRO; a subclass may redeclare a
parameter (same name) to change its default or documentation. Unknown or ill-typed values raise
`bridge.errors.ParamError` at once, naming the operator class and the parameter.
"""

from __future__ import annotations

import copy
import difflib
import json
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from bridge.errors import ParamError
from bridge.values import describe_value

__all__ = [
    "Param",
    "WithParams",
    "at_least",
    "json_dict_string",
    "one_of",
    "unsupported",
    "camel_to_snake",
]


@dataclass(frozen=True)
class Param:
    """The declaration of one operator parameter.

    Attributes:
        name: the camelCase name, as in Alink, e.g. ``"numWorkers"``. The setter is
            ``set`` + the name with its first letter upper-cased (``setNumWorkers``), the getter
            likewise (``getNumWorkers``), and the keyword is `camel_to_snake` of it
            (``num_workers``).
        type: the accepted Python type, or a tuple of them. ``int`` never accepts ``bool``;
            ``float`` also accepts integers (stored as ``float``); ``list`` also accepts tuples
            (stored as ``list``). Checked after `convert`.
        default: the value the getter returns while the parameter is unset. Lists and dicts are
            copied on every get, so callers may mutate what they get.
        required: whether `WithParams._check_required` insists on a value.
        doc: one line for the user, shown in the operator's generated docstring.
        convert: optional normalizer applied to a set value before the type check, e.g.
            `parse_name_list`. It raises ``ValueError`` or ``TypeError`` for unusable input.
        validate: optional check of the converted, type-checked value. It raises ``ValueError``
            with a phrase describing the problem (e.g. ``"must be at least 1"``).
        aliases: other accepted keywords, e.g. ``("num_ps",)`` for ``numPSs``.
    """

    name: str
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    doc: str = ""
    convert: Callable[[Any], Any] | None = None
    validate: Callable[[Any], None] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def setter_name(self) -> str:
        """The generated setter's name, e.g. ``"setNumWorkers"``."""
        return "set" + self.name[:1].upper() + self.name[1:]

    @property
    def getter_name(self) -> str:
        """The generated getter's name, e.g. ``"getNumWorkers"``."""
        return "get" + self.name[:1].upper() + self.name[1:]

    @property
    def keyword(self) -> str:
        """The snake_case constructor keyword, e.g. ``"num_workers"``."""
        return camel_to_snake(self.name)

    def type_name(self) -> str:
        """The accepted type(s) in words, e.g. ``"int"`` or ``"list or str"``."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " or ".join(t.__name__ for t in types)


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def camel_to_snake(name: str) -> str:
    """Converts a camelCase parameter name to its snake_case keyword.

    Runs of capitals stay one word: ``numWorkers`` -> ``num_workers``, ``numPSs`` ->
    ``num_pss``, ``intraOpParallelism`` -> ``intra_op_parallelism``.

    Args:
        name: the camelCase name.

    Returns:
        The snake_case name.
    """
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def _lookup_key(name: str) -> str:
    """The spelling-insensitive key: ``num_p_ss``, ``num_pss`` and ``numPSs`` all match."""
    return name.replace("_", "").lower()


# --- converters and validators -----------------------------------------------------------------


def json_dict_string(value: Any) -> str:
    """Normalizes a JSON-object parameter (Alink's ``userParams`` and the like).

    Accepts a dict or a JSON string of an object. The stored value, and what the getter returns,
    is the JSON string, as in Alink; keys keep their order.

    Args:
        value: the value the user set.

    Returns:
        The object as a JSON string (``json.dumps`` formatting).

    Raises:
        TypeError: the value is neither a dict nor a string, or a dict is not JSON-serializable.
        ValueError: the string is not valid JSON, or holds something other than an object.
    """
    if isinstance(value, str):
        try:
            obj = json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f"is not valid JSON ({e.msg}): {value!r}") from None
    elif isinstance(value, dict):
        obj = value
    else:
        raise TypeError(f"must be a dict or a JSON string, got {_describe(value)}")
    if not isinstance(obj, dict):
        raise ValueError(f"must be a JSON object, got a JSON {type(obj).__name__}")
    try:
        return json.dumps(obj)
    except (TypeError, ValueError) as e:
        raise TypeError(f"must be JSON-serializable: {e}") from None


def at_least(minimum: float) -> Callable[[Any], None]:
    """A validator that rejects values below ``minimum``.

    Args:
        minimum: the smallest accepted value.

    Returns:
        A callable for `Param.validate`.
    """

    def check(value: Any) -> None:
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value!r}")

    return check


def one_of(choices: Iterable[Any]) -> Callable[[Any], None]:
    """A validator that accepts only the given values.

    Args:
        choices: the accepted values.

    Returns:
        A callable for `Param.validate`.
    """
    allowed = tuple(choices)

    def check(value: Any) -> None:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")

    return check


def unsupported(reason: str) -> Callable[[Any], None]:
    """A validator for an Alink parameter akdl declares but does not support.

    Setting it fails at once with ``reason``, naming the operator and the parameter, so a
    ported program learns what to do instead of meeting a missing method.

    Args:
        reason: why it is not supported and what to use instead.

    Returns:
        A callable for `Param.validate`.
    """

    def check(value: Any) -> None:
        raise ValueError(f"is not supported by akdl: {reason}")

    return check


def _describe(value: Any) -> str:
    return describe_value(value, limit=60)


def _check_type(param: Param, value: Any) -> Any:
    """Returns the value, coerced where lossless (int -> float, tuple -> list), or raises."""
    types = param.type if isinstance(param.type, tuple) else (param.type,)
    for t in types:
        if t is bool:
            if isinstance(value, bool):
                return value
        elif t is int:
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                return int(value)
        elif t is float:
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                return float(value)
        elif t is list:
            if isinstance(value, list | tuple):
                return list(value)
        elif isinstance(value, t):
            return value
    raise TypeError(f"must be {_a(param.type_name())}, got {_describe(value)}")


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


# --- the mixin ---------------------------------------------------------------------------------


def _make_setter(param: Param) -> Callable[..., Any]:
    def setter(self: WithParams, value: Any) -> WithParams:
        self._set_param(param.name, value)
        return self

    setter.__name__ = setter.__qualname__ = param.setter_name
    setter.__doc__ = (
        f"Sets ``{param.name}`` ({param.type_name()}). {param.doc}".rstrip()
        + "\n\nReturns:\n    This operator, for chaining."
    )
    setter._akdl_generated = True  # type: ignore[attr-defined]
    return setter


def _make_getter(param: Param) -> Callable[..., Any]:
    def getter(self: WithParams) -> Any:
        return self._get_param(param.name)

    getter.__name__ = getter.__qualname__ = param.getter_name
    getter.__doc__ = f"Returns ``{param.name}`` (default {param.default!r}). {param.doc}".rstrip()
    getter._akdl_generated = True  # type: ignore[attr-defined]
    return getter


class WithParams:
    """Base of every operator: parameters from one ``PARAMS`` declaration.

    Subclasses list their own `Param` objects in ``PARAMS``; those of base classes are merged in
    (a subclass's declaration of the same name wins). For each parameter the class gets a
    camelCase setter returning ``self`` and a getter, unless the class (or a base) defines that
    method by hand, and the constructor accepts it as a snake_case or camelCase keyword.

    Setting ``None`` unsets a parameter: its getter returns the default again.

    Raises:
        ParamError: from the constructor and the setters, for unknown or ill-typed values.
    """

    PARAMS: ClassVar[tuple[Param, ...]] = ()
    _PARAM_SPECS: ClassVar[dict[str, Param]] = {}
    _PARAM_KEYS: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for param in klass.__dict__.get("PARAMS", ()):
                if not isinstance(param, Param):
                    raise TypeError(f"{cls.__name__}.PARAMS holds {param!r}, not a Param")
                specs.pop(param.name, None)  # a redeclaration moves the param to the end
                specs[param.name] = param
        keys: dict[str, str] = {}
        for name, param in specs.items():
            for spelling in (name, *param.aliases):
                key = _lookup_key(spelling)
                if keys.get(key, name) != name:
                    raise TypeError(
                        f"{cls.__name__}: parameters {keys[key]!r} and {name!r} share the "
                        f"keyword {spelling!r}"
                    )
                keys[key] = name
        cls._PARAM_SPECS = specs
        cls._PARAM_KEYS = keys
        for param in specs.values():
            for method_name, make in (
                (param.setter_name, _make_setter),
                (param.getter_name, _make_getter),
            ):
                existing = getattr(cls, method_name, None)
                if existing is None or getattr(existing, "_akdl_generated", False):
                    setattr(cls, method_name, make(param))
        cls.__doc__ = (cls.__doc__ or "").rstrip() + _params_doc(specs.values())

    def __init__(self, **kwargs: Any):
        self._param_values: dict[str, Any] = {}
        for key, value in kwargs.items():
            # Through the setter, so a hand-written one sees keywords too.
            getattr(self, self._PARAM_SPECS[self._resolve_name(key)].setter_name)(value)

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """Every parameter of this operator class, inherited ones included.

        Returns:
            A new dict from camelCase name to `Param`, in declaration order.
        """
        return dict(cls._PARAM_SPECS)

    def get_params(self) -> dict[str, Any]:
        """The value of every parameter, defaults included.

        Returns:
            A new dict from camelCase name to value.
        """
        return {name: self._get_param(name) for name in self._PARAM_SPECS}

    def _operator_name(self) -> str:
        return type(self).__name__

    def _param_error(self, param: str, problem: str) -> ParamError:
        """A :class:`ParamError` naming this operator and ``param``."""
        return ParamError(self._operator_name(), param, problem)

    def _resolve_name(self, key: str) -> str:
        """Maps a keyword in any supported spelling to the camelCase name, or raises."""
        name = self._PARAM_KEYS.get(_lookup_key(key))
        if name is not None:
            return name
        spellings = list(self._PARAM_SPECS) + [p.keyword for p in self._PARAM_SPECS.values()]
        close = difflib.get_close_matches(key, spellings, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self._PARAM_SPECS) or "none"
        raise ParamError(
            self._operator_name(), key, f"is unknown{hint} (known parameters: {known})"
        )

    def _set_param(self, name: str, value: Any) -> None:
        """Converts, checks and stores one value; ``None`` unsets the parameter."""
        param = self._PARAM_SPECS[name]
        if value is None:
            self._param_values.pop(name, None)
            self._on_params_changed()
            return
        try:
            if param.convert is not None:
                value = param.convert(value)
            value = _check_type(param, value)
            if param.validate is not None:
                param.validate(value)
        except (TypeError, ValueError) as e:
            raise ParamError(self._operator_name(), name, str(e)) from None
        self._param_values[name] = value
        self._on_params_changed()

    def _get_param(self, name: str) -> Any:
        if name in self._param_values:
            value = self._param_values[name]
        else:
            value = self._PARAM_SPECS[name].default
        if isinstance(value, list | dict):
            return copy.deepcopy(value)
        return value

    def _is_set(self, name: str) -> bool:
        """Whether the parameter was given a value (as opposed to keeping its default)."""
        return name in self._param_values

    def _check_required(self) -> None:
        """Raises for the first required parameter that has no value.

        Raises:
            ParamError: naming the operator and the missing parameter.
        """
        for param in self._PARAM_SPECS.values():
            if param.required and self._get_param(param.name) is None:
                raise ParamError(
                    self._operator_name(),
                    param.name,
                    f"is required; set it with {param.setter_name}(...) or the "
                    f"{param.keyword}= keyword",
                )

    def _on_params_changed(self) -> None:
        """Hook called after every set; subclasses drop what they derived from the params."""

    def _params_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._param_values.items())


def _params_doc(params: Iterable[Param]) -> str:
    lines = []
    for p in params:
        flag = "required" if p.required else f"default {p.default!r}"
        doc = f": {p.doc}" if p.doc else ""
        lines.append(f"    {p.name} / {p.keyword} ({p.type_name()}, {flag}){doc}")
    if not lines:
        return ""
    return "\n\nParameters (setX/getX methods, or snake_case keywords):\n" + "\n".join(lines)

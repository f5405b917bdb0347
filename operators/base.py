"""Base classes of all operators: `BatchOperator` and `StreamOperator` wrap a PyFlink ``Table``.

Runs in the Flink driver (the user's PyFlink program).

An operator's output is a ``Table``. Sources build theirs lazily from their parameters the first
time it is needed (so ``RandomTableSourceBatchOp().setNumRows(100).getColNames()`` works);
other operators build it in ``linkFrom``. Chaining follows Alink::

    source.select("*, RAND() AS r").link(SomeBatchOp()).print()

Execution follows Alink too:

* ``BatchOperator.print()`` / ``collect()`` / ``collectToDataframe()`` run a job at once.
* ``StreamOperator.print()`` only *registers* a print sink (rows go to the TaskManager's
  stdout, which locally is this process's); ``StreamOperator.execute()`` runs every registered
  sink in one job. ``collect()`` runs a job at once (for bounded streams).
* ``BatchOperator.execute()`` likewise runs the registered sinks of batch operators. Called on
  an *instance*, ``op.execute()`` also runs that operator's output into a discarding sink, for
  operators whose work is a side effect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pyflink.common import Row
from pyflink.table import StreamTableEnvironment, Table, TableDescriptor

from bridge.errors import AkdlError
from bridge.schema import quote_name
from operators import env as _env
from operators._collect import collect_rows
from operators._jobs import StageHandle
from operators._planner_thread import ensure_planner_thread
from operators._tableau import format_tableau
from operators.params import WithParams
from operators.types import table_type_strings

if TYPE_CHECKING:
    import pandas

__all__ = [
    "BatchOperator",
    "LinkError",
    "StreamOperator",
]


class LinkError(AkdlError, TypeError):
    """Operators were linked wrongly: wrong count or kind of inputs, or no input yet."""


class _ClassOrInstanceMethod:
    """A method that receives the class and the instance (``None`` when called on the class)."""

    def __init__(self, func: Callable[..., Any]):
        self._func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __get__(self, obj: Any, objtype: type | None = None) -> Callable[..., Any]:
        cls = objtype if objtype is not None else type(obj)

        @functools.wraps(self._func)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return self._func(cls, obj, *args, **kwargs)

        return bound


class _TableOperator(WithParams):
    """What batch and stream operators share: one output ``Table`` and the Alink table API.

    Subclasses set ``_STREAM`` (which default environment they use) and either override
    `_build_table` (sources: build the output from parameters, lazily) or implement ``linkFrom``
    and call `_set_output`.

    Every operator knows the TF stages its output depends on (``_stages``: its inputs' and its
    own), so that a job run from it starts exactly those stages' coordinators.
    """

    _STREAM: ClassVar[bool] = False

    def __init__(self, **kwargs: Any):
        self._table: Table | None = None
        self._stages: frozenset[StageHandle] = frozenset()
        super().__init__(**kwargs)

    # --- plumbing for subclasses ---------------------------------------------------------------

    @classmethod
    def _table_env(cls) -> StreamTableEnvironment:
        """The default table environment of this operator kind (see `operators.env`)."""
        return _env.get_stream_table_env() if cls._STREAM else _env.get_batch_table_env()

    def _build_table(self) -> Table | None:
        """Builds the output from the parameters; sources override. ``None``: not possible."""
        return None

    def _set_output(self, table: Table) -> None:
        """Sets the output table (from ``linkFrom``)."""
        self._table = table

    def _add_stage(self, stage: StageHandle) -> None:
        """Records a TF stage this operator's output runs."""
        self._stages = self._stages | {stage}

    def _run_job(self, run: Callable[[Table], Any], stages: Iterable[StageHandle] = ()) -> Any:
        """Runs ``run(output table)`` as a job whose TF stages have their coordinators.

        Args:
            run: executes the table (collect, print, insert) and returns what it returns.
            stages: further stages in the job (other sinks of one statement set).
        """
        table = self._output()
        with _env.current_environment().jobs.job(table._t_env, self._stages | set(stages)):
            return run(table)

    def _output(self) -> Table:
        """The output table, built now if this is a source.

        Raises:
            LinkError: the operator has no output yet (it was never linked from an input).
        """
        if self._table is None:
            ensure_planner_thread(self._table_env())
            self._table = self._build_table()
            if self._table is None:
                raise LinkError(
                    f"{self._operator_name()} has no output yet: link it from its input first, "
                    f"e.g. source.link(op) or op.linkFrom(source)"
                )
        else:
            ensure_planner_thread(self._table._t_env)
        return self._table

    @classmethod
    def _family(cls) -> type[_TableOperator]:
        """The public base (BatchOperator or StreamOperator) of this operator's kind."""
        return StreamOperator if cls._STREAM else BatchOperator

    def _input_tables(self, ops: tuple[Any, ...], count: int | None = None) -> list[Table]:
        """Checks the inputs of ``linkFrom`` and returns their output tables.

        Args:
            ops: the operators passed to ``linkFrom``.
            count: the number of inputs required; ``None`` accepts one or more.

        Returns:
            The inputs' tables, in order.

        Raises:
            LinkError: wrong number of inputs, or an input of the wrong kind (a stream operator
                linked into a batch one, a plain Table, ...).
        """
        family = self._family()
        if count is not None and len(ops) != count:
            raise LinkError(
                f"{self._operator_name()}.linkFrom takes {count} input(s), got {len(ops)}"
            )
        if not ops:
            raise LinkError(f"{self._operator_name()}.linkFrom needs at least one input")
        for i, op in enumerate(ops):
            if not isinstance(op, family):
                raise LinkError(
                    f"{self._operator_name()}.linkFrom input {i} must be a {family.__name__}, "
                    f"got {type(op).__name__}"
                )
        tables = [op._output() for op in ops]
        self._stages = self._stages.union(*(op._stages for op in ops))
        return tables

    def _derived(self, table: Table) -> _TableOperator:
        """A plain operator of this kind whose output ``table`` is computed from this one's."""
        op = self._wrap(table)
        op._stages = self._stages
        return op

    @classmethod
    def _wrap(cls, table: Table) -> _TableOperator:
        """A plain operator of this kind whose output is ``table``."""
        op = cls._family()()
        op._set_output(table)
        return op

    # --- the Alink table API -------------------------------------------------------------------

    @classmethod
    def fromTable(cls, table: Table) -> Any:
        """Wraps a PyFlink table of this operator's kind (batch or streaming environment).

        Args:
            table: the table.

        Returns:
            A `BatchOperator` (or `StreamOperator`) whose output is ``table``.

        Raises:
            LinkError: ``table`` is not a PyFlink ``Table``.
        """
        family = cls._family()
        if not isinstance(table, Table):
            raise LinkError(f"{family.__name__}.fromTable needs a pyflink Table, got {type(table)}")
        return family._wrap(table)

    def link(self, op: Any) -> Any:
        """Feeds this operator's output into ``op``.

        Args:
            op: the downstream operator.

        Returns:
            ``op``, so chains read left to right.
        """
        op.linkFrom(self)
        return op

    def linkFrom(self, *ops: Any) -> Any:
        """Builds this operator's output from its inputs. Each operator class implements it.

        Args:
            *ops: the upstream operators.

        Raises:
            NotImplementedError: this class takes no inputs this way.
        """
        raise NotImplementedError(f"{self._operator_name()} does not implement linkFrom")

    def select(self, clause: str) -> Any:
        """A new operator of the same kind with ``SELECT <clause> FROM <this output>``.

        Args:
            clause: a Flink SQL select list, e.g.
                ``"*, case when RAND() > 0.5 then 1. else 0. end as label"``.

        Returns:
            A `BatchOperator` (or `StreamOperator`) wrapping the query's table.
        """
        table = self._output()
        return self._derived(table._t_env.sql_query(f"SELECT {clause} FROM {table}"))

    def filter(self, condition: str) -> Any:
        """A new operator of the same kind with the rows matching a SQL condition.

        Args:
            condition: a Flink SQL boolean expression, e.g. ``"col0 > 0.5"``.

        Returns:
            A `BatchOperator` (or `StreamOperator`) wrapping the filtered table.
        """
        table = self._output()
        return self._derived(table._t_env.sql_query(f"SELECT * FROM {table} WHERE {condition}"))

    where = filter

    def getColNames(self) -> list[str]:
        """The output column names.

        Returns:
            The names in order.
        """
        return [name for name, _ in table_type_strings(self._output())]

    def getColTypes(self) -> list[str]:
        """The output column types as Flink SQL type strings.

        Returns:
            E.g. ``["BIGINT", "DOUBLE", "INT NOT NULL", "ARRAY<DOUBLE>", "DECIMAL(10, 2)"]``.
        """
        return [type_text for _, type_text in table_type_strings(self._output())]

    def getSchemaStr(self) -> str:
        """The output schema as a schema string, e.g. ``"col0 DOUBLE, col1 DOUBLE"``.

        Names that are not plain identifiers are quoted with backticks; the string can be used
        as an ``outputSchemaStr`` or ``schemaStr``.

        Returns:
            The schema string.
        """
        return ", ".join(
            f"{quote_name(name)} {type_text}"
            for name, type_text in table_type_strings(self._output())
        )

    def getTable(self) -> Table:
        """The output as a PyFlink ``Table``, for interop with plain PyFlink.

        Returns:
            The table (built now if this is a source).
        """
        return self._output()

    def collect(self) -> list[Row]:
        """Runs a job and returns the output rows.

        Rows come back in Arrow batches (one gateway call per batch), about 20 times faster
        than PyFlink's ``TableResult.collect()``, which makes several calls per row. Values are
        those of PyFlink's own collect, except: BYTES are ``bytes`` (not ``bytearray``);
        TIMESTAMP keeps microseconds (PyFlink's cuts to milliseconds; nanoseconds are cut to
        microseconds here); TIMESTAMP_LTZ values are aware ``datetime`` in UTC, and ARRAYs may
        hold NULL elements (PyFlink's collect fails on both). For an updating stream the final
        result is returned, updates applied. Columns of types akdl does not model (MAP, ROW,
        TIME, ...) fall back to PyFlink's row-by-row collect.

        Returns:
            The rows, as positional PyFlink ``Row`` objects.
        """
        return self._run_job(collect_rows)

    def collectToDataframe(self) -> pandas.DataFrame:
        """Runs a job and returns the output as a pandas DataFrame.

        Returns:
            One column per output column, in order; NULLs are ``None`` (or NaN where pandas
            infers a float column).
        """
        import pandas

        rows = self.collect()
        return pandas.DataFrame.from_records([tuple(r) for r in rows], columns=self.getColNames())

    def __repr__(self) -> str:
        params = self._params_repr()
        text = f"{self._operator_name()}({params})"
        if self._table is not None:
            text += f" -> [{self.getSchemaStr()}]"
        else:
            text += " (output not built yet)"
        return f"<{text}>"


def _execute(cls: type[_TableOperator], op: _TableOperator | None) -> None:
    """Runs the pending sinks of ``cls``'s kind, plus ``op``'s output into a discarding sink."""
    stream = cls._STREAM
    environment = _env.current_environment()
    pending = environment.pending_sinks[stream]
    sinks = list(pending)
    if op is not None:
        blackhole = TableDescriptor.for_connector("blackhole").build()
        sinks.append((op._output(), blackhole, op._stages))
    if not sinks:
        raise LinkError(
            f"{cls.__name__}.execute(): nothing to execute; print() a "
            f"{'stream' if stream else 'batch'} operator first, or call execute() on one"
        )
    pending.clear()
    groups: dict[int, list[tuple[Table, TableDescriptor, frozenset[StageHandle]]]] = {}
    for sink in sinks:
        groups.setdefault(id(sink[0]._t_env), []).append(sink)
    for group in groups.values():
        t_env = group[0][0]._t_env
        statements = t_env.create_statement_set()
        for table, descriptor, _ in group:
            statements.add_insert(descriptor, table)
        stages = frozenset().union(*(stages for _, _, stages in group))
        with environment.jobs.job(t_env, stages):
            statements.execute().wait()


class BatchOperator(_TableOperator):
    """Base of batch operators: a bounded PyFlink ``Table`` in the batch environment."""

    _STREAM = False

    def print(self) -> None:
        """Runs a job and prints the output rows as a table, in Flink's tableau format.

        The text goes to Python's ``sys.stdout`` (so notebooks and pytest see it).
        """
        print(format_tableau(self.getColNames(), self.collect()))

    @_ClassOrInstanceMethod
    def execute(cls: type[BatchOperator], op: BatchOperator | None) -> None:
        """Runs a job.

        ``BatchOperator.execute()`` runs the sinks registered so far; ``op.execute()`` also
        runs ``op``'s output (into a discarding sink), for operators with side effects.

        Raises:
            LinkError: called on the class with nothing registered.
        """
        _execute(cls, op)


class StreamOperator(_TableOperator):
    """Base of stream operators: a PyFlink ``Table`` in the streaming environment."""

    _STREAM = True

    def collect(self, max_rows: int | None = None) -> list[Row]:
        """Runs a job and returns its output rows.

        Without ``max_rows`` the stream must be bounded: this returns when it ends. With
        ``max_rows``, the first ``max_rows`` rows are returned as soon as they have arrived and
        the job is then cancelled, which is how to sample an unbounded stream (every TF process
        of the job is stopped). Those rows come through PyFlink's row-by-row collect.

        Args:
            max_rows: stop after this many rows; ``None`` to read to the end.

        Returns:
            The rows, as PyFlink ``Row`` objects.
        """
        if max_rows is None:
            return super().collect()
        if max_rows < 0:
            raise ValueError(f"max_rows must be >= 0, got {max_rows}")
        rows: list[Row] = []
        if max_rows == 0:
            return rows
        table = self._output()
        with _env.current_environment().jobs.job(table._t_env, self._stages) as job:
            # Closing the iterator cancels the job; its coordinators end its TF processes.
            try:
                with table.execute().collect() as results:
                    for row in results:
                        rows.append(row)
                        if len(rows) >= max_rows:
                            break
            finally:
                job.cancel(f"the job was cancelled after collecting {len(rows)} rows")
        return rows

    def print(self) -> None:
        """Registers a print sink for the output; `StreamOperator.execute` runs it (as Alink).

        Rows are printed by the TaskManager (locally: this process's stdout) as they arrive.
        """
        descriptor = TableDescriptor.for_connector("print").build()
        sinks = _env.current_environment().pending_sinks[True]
        sinks.append((self._output(), descriptor, self._stages))

    @_ClassOrInstanceMethod
    def execute(cls: type[StreamOperator], op: StreamOperator | None) -> None:
        """Runs every registered stream sink (and ``op``'s output, if called on one) in one job.

        Blocks until the job ends, which for unbounded sources is never.

        Raises:
            LinkError: called on the class with nothing registered.
        """
        _execute(cls, op)

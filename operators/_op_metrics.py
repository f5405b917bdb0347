"""``op.getMetrics()`` and ``op.plotMetrics(path)`` of the TF operators (Flink driver).

The values come from the stage's coordinator (`operators._jobs.JobRunner.metrics_of`): what
every task logged with ``task_config.log_metric`` in the last job that ran the stage, plus the
built-in ``rows_in``, ``rows_out``, ``seconds_to_main`` and ``seconds_in_main`` of each task.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from bridge.errors import AkdlError
from operators import env as _env
from operators._jobs import StageDescription, StageHandle

if TYPE_CHECKING:
    import pandas

__all__ = ["MetricsMixin"]

_COLUMNS = ["task", "name", "step", "value", "time"]


class MetricsMixin:
    """Gives a TF operator its metrics; the operator calls :meth:`_track_stage` when planning.

    Mixed into operator classes, whose base (`operators.base`) provides ``_operator_name``,
    ``get_params`` and ``_add_stage``.
    """

    _own_stage: StageHandle | None = None

    def _track_stage(self, stage: StageHandle) -> None:
        """Record the operator's own TF stage: its output runs it, its metrics are its."""
        self._own_stage = stage
        description = StageDescription(self._operator_name(), self.get_params())
        _env.current_environment().jobs.describe(stage, description)
        self._add_stage(stage)

    def getMetrics(self) -> pandas.DataFrame:  # noqa: N802 (Alink-style name)
        """The metrics of this operator's tasks in the last job that ran it.

        Returns:
            A DataFrame with columns ``task`` (e.g. ``chief:0``), ``name``, ``step``, ``value``
            and ``time`` (UTC), sorted by task, name and step.

        Raises:
            AkdlError: the operator was not linked yet, or its job has not ended yet.
        """
        import pandas as pd

        if self._own_stage is None:
            raise AkdlError(f"{self._operator_name()} has no metrics: link it from its input "
                            "and run the job first")
        records = _env.current_environment().jobs.metrics_of(self._own_stage)
        frame = pd.DataFrame(
            [(r.task, r.name, r.step, r.value, r.time) for r in records], columns=_COLUMNS
        )
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame.sort_values(["task", "name", "step"], kind="stable").reset_index(drop=True)

    def plotMetrics(self, path: str | os.PathLike[str]) -> str:  # noqa: N802 (Alink-style name)
        """Write a PNG with one chart per metric over its steps, one line per task.

        A metric with a single step (such as the built-in ones) is drawn as one bar per task.

        Needs matplotlib (``pip install matplotlib``).

        Returns:
            The path written.
        """
        metrics = self.getMetrics()
        if metrics.empty:
            raise AkdlError(f"{self._operator_name()} logged no metrics to plot")
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise AkdlError("plotMetrics needs matplotlib: pip install matplotlib") from exc
        names = sorted(metrics["name"].unique())
        columns = min(3, len(names))
        rows = math.ceil(len(names) / columns)
        figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).flatten()
        for ax, name in zip(axes, names, strict=False):
            values = metrics[metrics["name"] == name]
            ax.set_title(name)
            if values["step"].nunique() == 1:  # one value per task (the built-ins): bars
                ax.bar(values["task"], values["value"], color="tab:blue")
                continue
            for task, series in values.groupby("task"):
                ax.plot(series["step"], series["value"], marker="o", markersize=3, label=task)
            ax.set_xlabel("step")
            ax.legend(fontsize="small")
        for ax in axes[len(names):]:
            ax.set_visible(False)
        figure.suptitle(f"{self._operator_name()} metrics")
        path = os.fspath(path)
        figure.savefig(path, dpi=100)
        return path

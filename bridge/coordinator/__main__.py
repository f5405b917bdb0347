"""A standalone coordinator: ``python -m bridge.coordinator --workers W --ps P``.

For detached cluster submission, where the driver does not outlive the job. It prints
``address token`` on one line and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from bridge.coordinator.server import CoordinatorServer
from bridge.task_ref import TaskRef

__all__ = ["main"]


def _print_metrics(task: TaskRef, points: list) -> None:
    # No driver reads them back after a detached job: the log is where they are kept.
    for point in points:
        print(f"metric {task.label} {point.name} step {point.step} = {point.value:.6g}",
              flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a coordinator until SIGTERM or SIGINT; prints ``address token`` on one line."""
    parser = argparse.ArgumentParser(prog="python -m bridge.coordinator", description=__doc__)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--ps", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--advertised-host", default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = CoordinatorServer(
        args.workers, args.ps, host=args.host, port=args.port,
        advertised_host=args.advertised_host, on_metrics=_print_metrics,
    )
    try:
        print(f"{server.address} {server.token}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

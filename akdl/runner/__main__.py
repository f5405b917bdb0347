"""Entry point of a TF process: ``python -m akdl.runner --spec <work_dir>/task_spec.pb``."""

import sys

from akdl.runner.task_runner import main

if __name__ == "__main__":
    sys.exit(main())

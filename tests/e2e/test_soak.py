"""The soak script at CI size: 1M rows through an identity script at 2 workers, checked exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from session_processes import driver_environ

pytestmark = pytest.mark.e2e


def test_a_million_rows_come_back_exactly(repo_root):
    done = subprocess.run(
        [sys.executable, os.path.join(repo_root, "scripts", "soak.py"), "--rows", "1000000",
         "--workers", "2"],
        capture_output=True, text=True, timeout=900, cwd=repo_root, env=driver_environ(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["measured"] == report["expected"]
    assert report["measured"]["rows"] == report["measured"]["distinct_ids"] == 1_000_000

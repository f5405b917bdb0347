"""Alink's TF1-era akdl modules fail with a message that says what to use instead."""

import subprocess
import sys

import pytest

import akdl  # noqa: F401 - installs the finder
from akdl._retired import RETIRED, RetiredModuleError


@pytest.mark.parametrize(
    ("statement", "module"),
    [
        ("import akdl.engine.inputs", "akdl.engine.inputs"),
        ("from akdl.engine.inputs import get_dataset_fn", "akdl.engine.inputs"),
        ("from akdl.engine import run_config", "akdl.engine.run_config"),
        ("from akdl.runner import io_helper", "akdl.runner.io_helper"),
        ("import akdl.runner.tf_helper", "akdl.runner.tf_helper"),
        ("import akdl.engine; akdl.engine.train", "akdl.engine.train"),
        ("from akdl.entry.batch_entry import BatchEntry", "akdl.entry.batch_entry"),
        ("import akdl.models.tf.dnn.dnn_tensor", "akdl.models.tf.dnn.dnn_tensor"),
    ],
)
def test_importing_a_retired_module_names_it_and_the_replacement(statement, module):
    with pytest.raises(RetiredModuleError) as info:
        exec(statement, {})
    assert info.value.module == module
    text = str(info.value)
    assert f"No module named {module!r}" in text and "Use instead:" in text
    assert isinstance(info.value, ModuleNotFoundError)


def test_every_retired_module_says_why_and_what_instead():
    for name, (what, why, instead) in RETIRED.items():
        assert name.startswith("akdl.") and what and why and instead


def test_the_modules_akdl_provides_still_import_without_tensorflow():
    code = (
        "import sys\n"
        "import akdl.runner.config, akdl.models.tf.dnn.dnn_batch, akdl.models.tf.dnn.dnn_stream\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

"""Loading the user's main script in the TF process."""

import sys
import textwrap

import pytest

from akdl.runner.user_script import load_main
from bridge.errors import UserScriptError


@pytest.fixture
def work_dir(tmp_path):
    """A work dir; sys.path and the modules the scripts import are restored afterwards."""
    path, modules = list(sys.path), set(sys.modules)
    yield tmp_path
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def script(work_dir, name, code):
    (work_dir / name).write_text(textwrap.dedent(code))


def test_main_is_returned_and_callable(work_dir):
    script(work_dir, "job_ok.py", "def main(task_config):\n    return task_config * 2\n")
    assert load_main("job_ok.py", str(work_dir))(21) == 42


def test_missing_script_lists_the_files_present(work_dir):
    script(work_dir, "helper.py", "")
    (work_dir / "data.csv").write_text("a,b\n")
    with pytest.raises(UserScriptError) as info:
        load_main("main.py", str(work_dir))
    text = str(info.value)
    assert "'main.py' was not found" in text
    assert "['data.csv', 'helper.py']" in text
    assert "mainScriptFile" in text


def test_script_without_main_names_main(work_dir):
    script(work_dir, "job_nomain.py", "def run(task_config):\n    pass\n")
    with pytest.raises(UserScriptError, match=r"does not define a function 'main\(task_config\)'"):
        load_main("job_nomain.py", str(work_dir))


def test_main_that_is_not_callable_is_rejected(work_dir):
    script(work_dir, "job_notfn.py", "main = 3\n")
    with pytest.raises(UserScriptError, match="'main"):
        load_main("job_notfn.py", str(work_dir))


@pytest.mark.parametrize(
    ("signature", "shown"),
    [("main()", "main()"), ("main(config, extra)", "main(config, extra)"),
     ("main(*, config)", "main(*, config)")],
)
def test_main_with_wrong_arity_shows_its_signature(work_dir, signature, shown):
    script(work_dir, "job_arity.py", f"def {signature}:\n    pass\n")
    with pytest.raises(UserScriptError) as info:
        load_main("job_arity.py", str(work_dir))
    assert "must take exactly one argument (task_config)" in str(info.value)
    assert f"its signature is {shown}" in str(info.value)


@pytest.mark.parametrize("signature", ["main(config, extra=1)", "main(*args)", "main(c, **kw)"])
def test_main_accepting_one_argument_is_fine(work_dir, signature):
    script(work_dir, "job_flex.py", f"def {signature}:\n    return 'ran'\n")
    assert load_main("job_flex.py", str(work_dir))(object()) == "ran"


def test_script_imports_a_sibling_module_from_the_work_dir(work_dir):
    script(work_dir, "akdl_test_sibling_helper.py", "FACTOR = 7\n")
    script(work_dir, "job_sibling.py", """
        import akdl_test_sibling_helper

        def main(task_config):
            return akdl_test_sibling_helper.FACTOR * task_config
    """)
    assert load_main("job_sibling.py", str(work_dir))(6) == 42
    assert sys.path[0] == str(work_dir)


def test_syntax_error_propagates(work_dir):
    script(work_dir, "job_broken.py", "def main(task_config):\n    return (\n")
    with pytest.raises(SyntaxError) as info:
        load_main("job_broken.py", str(work_dir))
    assert info.value.filename.endswith("job_broken.py")


def test_error_raised_at_import_propagates(work_dir):
    script(work_dir, "job_raises.py", "raise RuntimeError('at import')\n")
    with pytest.raises(RuntimeError, match="at import"):
        load_main("job_raises.py", str(work_dir))

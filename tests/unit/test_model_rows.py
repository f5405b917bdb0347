"""Alink model rows <-> SavedModel directories."""

import base64
import os
import random
import subprocess
import sys
import textwrap

import pytest

from akdl.model_rows import (
    MODEL_CHUNK_BYTES,
    find_saved_model,
    model_rows_to_saved_model,
    saved_model_to_model_rows,
)
from bridge.errors import AkdlError


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def fake_saved_model(root):
    """A directory shaped like a SavedModel, with a random 2.6 MiB variables file."""
    return {
        "saved_model.pb": write(root / "saved_model.pb", b"graph bytes"),
        "variables/variables.index": write(root / "variables/variables.index", b"index"),
        "variables/variables.data-00000-of-00001": write(
            root / "variables/variables.data-00000-of-00001", random.Random(7).randbytes(2_700_000)
        ),
    }


def files_under(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.fixture
def model_dir(tmp_path):
    root = tmp_path / "model"
    expected = fake_saved_model(root)
    return root, expected


def test_rows_are_the_archive_name_then_numbered_chunks(model_dir):
    root, _ = model_dir
    rows = saved_model_to_model_rows(str(root), name="dnn")
    assert rows[0] == (0, "dnn.zip")
    assert [k for k, _ in rows] == list(range(len(rows)))
    assert len(rows) - 1 == 3  # random data does not compress: 2.6 MiB in 1 MiB chunks
    sizes = [len(base64.b64decode(info)) for _, info in rows[1:]]
    assert all(size <= MODEL_CHUNK_BYTES for size in sizes)
    assert sizes[:-1] == [MODEL_CHUNK_BYTES] * (len(sizes) - 1)
    assert all(isinstance(info, str) for _, info in rows)


def test_round_trip_restores_every_file(model_dir, tmp_path):
    root, expected = model_dir
    rows = saved_model_to_model_rows(str(root))
    restored = model_rows_to_saved_model(rows, str(tmp_path / "restored"))
    assert restored == str(tmp_path / "restored")
    assert files_under(restored) == expected


def test_round_trip_accepts_shuffled_list_rows(model_dir, tmp_path):
    root, expected = model_dir
    rows = [list(row) for row in saved_model_to_model_rows(str(root))]
    random.Random(3).shuffle(rows)
    restored = model_rows_to_saved_model(rows, str(tmp_path / "restored"))
    assert files_under(restored) == expected


def test_single_timestamp_sub_directory_is_accepted(tmp_path):
    root = tmp_path / "export"
    expected = fake_saved_model(root / "1700000000")
    assert find_saved_model(str(root)) == str(root / "1700000000")
    rows = saved_model_to_model_rows(str(root))
    restored = model_rows_to_saved_model(rows, str(tmp_path / "restored"))
    assert files_under(restored) == expected  # the archive holds the model at its root


def test_saved_model_pbtxt_is_recognised(tmp_path):
    write(tmp_path / "saved_model.pbtxt", b"text graph")
    assert find_saved_model(str(tmp_path)) == str(tmp_path)


def test_two_sub_directories_are_rejected_listing_entries(tmp_path):
    fake_saved_model(tmp_path / "1")
    fake_saved_model(tmp_path / "2")
    write(tmp_path / "notes.txt", b"")
    with pytest.raises(AkdlError, match=r"found \['1', '2', 'notes.txt'\]"):
        find_saved_model(str(tmp_path))


def test_sub_directory_without_saved_model_is_rejected(tmp_path):
    write(tmp_path / "checkpoints" / "ckpt-1.index", b"")
    with pytest.raises(AkdlError) as info:
        saved_model_to_model_rows(str(tmp_path))
    assert "no SavedModel in" in str(info.value)
    assert "['checkpoints']" in str(info.value)


def test_missing_directory_is_rejected(tmp_path):
    with pytest.raises(AkdlError, match=r"found \[\]"):
        find_saved_model(str(tmp_path / "absent"))


@pytest.fixture
def rows(model_dir):
    return saved_model_to_model_rows(str(model_dir[0]))


def test_missing_row_zero_is_rejected(rows, tmp_path):
    with pytest.raises(AkdlError, match="lack row 0"):
        model_rows_to_saved_model(rows[1:], str(tmp_path / "out"))


def test_row_zero_without_zip_name_is_rejected(rows, tmp_path):
    with pytest.raises(AkdlError, match="lack row 0"):
        model_rows_to_saved_model([(0, "model.tar")] + rows[1:], str(tmp_path / "out"))


def test_duplicate_model_id_is_rejected(rows, tmp_path):
    with pytest.raises(AkdlError, match="model_id 2 twice"):
        model_rows_to_saved_model(rows + [rows[2]], str(tmp_path / "out"))


def test_gap_in_model_ids_is_rejected(rows, tmp_path):
    gapped = [row for row in rows if row[0] != 2]
    with pytest.raises(AkdlError, match="not numbered 0..2 without gaps"):
        model_rows_to_saved_model(gapped, str(tmp_path / "out"))


def test_rows_that_are_not_a_zip_are_rejected(tmp_path):
    rows = [(0, "model.zip"), (1, base64.b64encode(b"not a zip").decode())]
    with pytest.raises(AkdlError, match="do not hold a zip archive"):
        model_rows_to_saved_model(rows, str(tmp_path / "out"))


_LOAD_AND_CALL = textwrap.dedent("""
    import sys
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    out = model.signatures["serving_default"](x=tf.constant([1.0, 3.0]))
    print("RESULT", out["y"].numpy().tolist())
""")


def test_real_saved_model_survives_rows_and_loads_in_a_fresh_process(tmp_path):
    tf = pytest.importorskip("tensorflow")

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(2.5)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return {"y": x * self.w}

    module = Scale()
    tf.saved_model.save(module, str(tmp_path / "saved"), signatures=module.__call__)
    rows = saved_model_to_model_rows(str(tmp_path / "saved"))
    restored = model_rows_to_saved_model(reversed(rows), str(tmp_path / "restored"))

    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_CALL, restored],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RESULT [2.5, 7.5]" in done.stdout

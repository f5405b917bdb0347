"""SavedModel paths, archives and model rows -> the directory holding saved_model.pb."""

import io
import os
import tarfile
import zipfile

import pytest

from akdl.model_rows import saved_model_to_model_rows
from akdl.predict.model_source import model_dir_from_rows, resolve_model_path
from bridge.errors import AkdlError, PredictError


def fake_saved_model(root):
    """A directory shaped like a SavedModel (the files are not a loadable model)."""
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.index").write_bytes(b"index")
    return root


def zip_dir(source, archive_path, prefix=""):
    with zipfile.ZipFile(archive_path, "w") as archive:
        for folder, _, files in os.walk(source):
            for name in files:
                path = os.path.join(folder, name)
                archive.write(path, prefix + os.path.relpath(path, source))
    return archive_path


def tar_dir(source, archive_path, prefix=""):
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(source, arcname=prefix or ".")
    return archive_path


def tar_with_member(archive_path, name, data=b"x"):
    with tarfile.open(archive_path, "w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return archive_path


@pytest.fixture
def model(tmp_path):
    return fake_saved_model(tmp_path / "export")


def test_directory_holding_the_saved_model(model, tmp_path):
    assert resolve_model_path(str(model), tmp_path / "scratch") == str(model)
    assert not (tmp_path / "scratch").exists()  # directories are used in place


def test_directory_with_the_saved_model_in_one_subdirectory(tmp_path):
    inner = fake_saved_model(tmp_path / "outer" / "1700000000")
    assert resolve_model_path(tmp_path / "outer", tmp_path / "scratch") == str(inner)


def test_saved_model_pb_file_itself(model, tmp_path):
    assert resolve_model_path(model / "saved_model.pb", tmp_path / "s") == str(model)


@pytest.mark.parametrize("prefix", ["", "model/"])
def test_zip_archive(model, tmp_path, prefix):
    archive = zip_dir(model, tmp_path / "model.zip", prefix)
    found = resolve_model_path(str(archive), tmp_path / "scratch")
    assert found == str(tmp_path / "scratch" / prefix.rstrip("/")).rstrip("/")
    assert open(os.path.join(found, "variables", "variables.index"), "rb").read() == b"index"


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".TAR.GZ"])
@pytest.mark.parametrize("prefix", ["", "model"])
def test_tar_archives(model, tmp_path, suffix, prefix):
    archive = tar_dir(model, tmp_path / f"model{suffix}", prefix)
    found = resolve_model_path(str(archive), tmp_path / "scratch")
    assert os.path.isfile(os.path.join(found, "saved_model.pb"))
    assert os.path.realpath(found).startswith(os.path.realpath(tmp_path / "scratch"))


def test_missing_path_is_named(tmp_path):
    with pytest.raises(PredictError, match=r"model path '.*nowhere' does not exist"):
        resolve_model_path(str(tmp_path / "nowhere"), tmp_path / "scratch")


def test_unknown_extension_is_named(tmp_path):
    path = tmp_path / "model.rar"
    path.write_bytes(b"data")
    with pytest.raises(PredictError, match=r"'.*model\.rar' is a file of unknown kind.*\.zip"):
        resolve_model_path(str(path), tmp_path / "scratch")


def test_directory_without_saved_model_lists_what_is_there(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "b.txt").write_text("x")
    with pytest.raises(PredictError, match=r"no SavedModel in '.*empty'.*\['a', 'b\.txt'\]"):
        resolve_model_path(str(tmp_path / "empty"), tmp_path / "scratch")


def test_archive_without_saved_model_lists_its_members(tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("docs/readme.txt", "hi")
        z.writestr("other.txt", "x")
    with pytest.raises(PredictError) as err:
        resolve_model_path(str(archive), tmp_path / "scratch")
    assert "archive" in str(err.value) and "notes.zip" in str(err.value)
    assert "holds no SavedModel" in str(err.value) and "docs/readme.txt" in str(err.value)


def test_corrupt_archives_are_named(tmp_path):
    for name in ("bad.zip", "bad.tar.gz"):
        path = tmp_path / name
        path.write_bytes(b"this is not an archive")
        with pytest.raises(PredictError, match=rf"cannot unpack model archive '.*{name}'"):
            resolve_model_path(str(path), tmp_path / "scratch")


@pytest.mark.parametrize("member", ["../evil.txt", "model/../../evil.txt", "/etc/evil.txt"])
def test_unsafe_members_are_refused_before_writing(tmp_path, member):
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("saved_model.pb", b"graph")
        z.writestr(zipfile.ZipInfo(member), b"x")
    tar_path = tar_with_member(tmp_path / "evil.tar.gz", member)
    for archive in (zip_path, tar_path):
        scratch = tmp_path / ("scratch-" + archive.name)
        with pytest.raises(PredictError, match=r"holds a member with (an absolute|a '\.\.') path"):
            resolve_model_path(str(archive), scratch)
        assert not scratch.exists()
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_out_of_the_scratch_directory_are_refused(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("saved_model.pb")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(PredictError, match="unsafe member"):
        resolve_model_path(str(archive), tmp_path / "scratch")


def test_model_rows_rebuild_the_directory(model, tmp_path):
    rows = saved_model_to_model_rows(str(model), name="dnn")
    found = model_dir_from_rows(reversed(rows), tmp_path / "scratch")
    assert open(os.path.join(found, "saved_model.pb"), "rb").read() == b"graph"


def test_bad_model_rows(tmp_path):
    with pytest.raises(PredictError, match="no model rows"):
        model_dir_from_rows([], tmp_path / "scratch")
    with pytest.raises(PredictError, match="lack row 0"):
        model_dir_from_rows([(1, "abcd")], tmp_path / "scratch")
    with pytest.raises(PredictError, match=r"\(model_id, model_info\) pairs"):
        model_dir_from_rows(["x"], tmp_path / "scratch")
    assert issubclass(PredictError, AkdlError)


def test_an_archive_over_the_unpack_limit_is_refused_before_writing(tmp_path, monkeypatch):
    from bridge.archive_limits import MAX_BYTES_ENV

    source = fake_saved_model(tmp_path / "model")
    archive = zip_dir(source, tmp_path / "model.zip")
    monkeypatch.setenv(MAX_BYTES_ENV, "4")
    scratch = tmp_path / "scratch"
    with pytest.raises(PredictError, match=f"over the limit of .*{MAX_BYTES_ENV}"):
        resolve_model_path(archive, scratch)
    assert not scratch.exists()


def test_a_tar_over_the_unpack_limit_is_refused(tmp_path, monkeypatch):
    from bridge.archive_limits import MAX_BYTES_ENV

    source = fake_saved_model(tmp_path / "model")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=".")
    monkeypatch.setenv(MAX_BYTES_ENV, "4")
    with pytest.raises(PredictError, match="would unpack to"):
        resolve_model_path(archive, tmp_path / "scratch")

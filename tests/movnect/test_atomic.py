"""movnect.atomic: old-or-new files and folders, ordinary modes, no stray temporary files."""
import os
import stat

import pytest

from movnect import atomic


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_new_file_gets_the_mode_of_an_ordinary_write(tmp_path, umask_027):
    atomic.write_text(tmp_path / "a.txt", "x")
    with open(tmp_path / "b.txt", "w") as f:
        f.write("x")
    assert _mode(tmp_path / "a.txt") == _mode(tmp_path / "b.txt") == 0o640


def test_existing_file_keeps_its_mode(tmp_path):
    p = tmp_path / "a.json"
    p.write_text("{}")
    os.chmod(p, 0o604)
    atomic.write_json(p, {"a": 1}, indent=2)
    assert _mode(p) == 0o604 and p.read_text() == '{\n  "a": 1\n}\n'


def test_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    p = tmp_path / "a.bin"
    atomic.write_bytes(p, b"old")
    with pytest.raises(OSError, match="disk full"):
        with atomic.atomic_open(p, "wb") as f:
            f.write(b"partial")
            raise OSError(28, "disk full")
    assert p.read_bytes() == b"old" and sorted(x.name for x in tmp_path.iterdir()) == ["a.bin"]


def test_copy_and_commit(tmp_path):
    (tmp_path / "src").write_bytes(b"data")
    atomic.copy_file(tmp_path / "src", tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == b"data"
    tmp = tmp_path / "x.tmp"
    tmp.write_bytes(b"new")
    atomic.commit(tmp, tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == b"new" and not tmp.exists()


def test_folder_is_swapped_in_whole_or_not_at_all(tmp_path):
    pkg = tmp_path / "m.mlpackage"
    with atomic.atomic_dir(pkg) as fresh:
        fresh.mkdir()
        (fresh / "v").write_text("1")
    assert (pkg / "v").read_text() == "1"
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(pkg) as fresh:
            fresh.mkdir()
            (fresh / "v").write_text("2")
            raise RuntimeError("converter crashed")
    assert (pkg / "v").read_text() == "1" and sorted(x.name for x in tmp_path.iterdir()) == ["m.mlpackage"]
    with atomic.atomic_dir(pkg) as fresh:
        fresh.mkdir()
        (fresh / "v").write_text("3")
    assert (pkg / "v").read_text() == "3" and sorted(x.name for x in tmp_path.iterdir()) == ["m.mlpackage"]


def test_output_checks_name_the_option(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    with pytest.raises(IsADirectoryError, match="--json: .* is a folder"):
        atomic.check_output_file(tmp_path / "d", "--json")
    with pytest.raises(NotADirectoryError, match="--out: .* is a file"):
        atomic.check_output_dir(tmp_path / "f", "--out")
    with pytest.raises(OSError, match="--json: cannot write in"):
        atomic.check_output_file(tmp_path / "f" / "x.json", "--json")
    assert atomic.check_output_file(tmp_path / "new" / "x.json", "--json").parent.is_dir()
    assert sorted(x.name for x in (tmp_path / "new").iterdir()) == []  # the probe is removed

"""movnect.locks: one holder per lock, released on close; path-name checks."""
import pytest

from movnect.locks import FolderLock, LockedError, check_path_name


def test_second_holder_is_refused_until_the_first_releases(tmp_path):
    first = FolderLock(tmp_path / "run" / ".lock", "run folder run")
    with pytest.raises(LockedError, match=r"run folder run is in use by another movnect process \(pid \d+"):
        FolderLock(tmp_path / "run" / ".lock", "run folder run")
    first.release()
    with FolderLock(tmp_path / "run" / ".lock", "run folder run"):
        pass


@pytest.mark.parametrize("name", ["main3d", "pre2d", "stage_1.v2", "a+b-c"])
def test_safe_names_pass(name):
    assert check_path_name(name, "stage name") == name


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "x/../../escaped", ".hidden", "a\\b", "a b", "x" * 101])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ValueError, match="stage name .* cannot be used in a file name"):
        check_path_name(name, "stage name")

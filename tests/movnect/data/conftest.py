import pytest

from tests.movnect.data.fixtures import build_tiny, build_tiny_coco


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("tiny_release"))[1]


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory):
    return build_tiny_coco(tmp_path_factory.mktemp("tiny_coco"))

import pytest

from tests.movnect.data.fixtures import build_tiny, build_tiny_coco


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("tiny_release"))[1]


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory):
    return build_tiny_coco(tmp_path_factory.mktemp("tiny_coco"))


@pytest.fixture(scope="session")
def anny_body():
    """One Anny model for the session (skips where the synth extra is not installed)."""
    pytest.importorskip("anny")
    from movnect.data.anny.body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def anny_renderer():
    """A SequenceRenderer at 64 px (skips without anny, moderngl or an EGL context)."""
    pytest.importorskip("anny")
    pytest.importorskip("moderngl")
    from movnect.data.anny import RendererUnavailable
    from movnect.data.anny.render import RenderOptions, SequenceRenderer

    try:
        r = SequenceRenderer(RenderOptions(crop_size=64, frames=3))
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    yield r
    r.close()

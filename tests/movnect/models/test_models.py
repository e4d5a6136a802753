import pytest

from movnect.models import MODEL_NAMES, ModelConfig, build_model
from movnect.models.student import LitePoseStudent, MoVNect
from movnect.models.teacher import VNect


def test_build_model_builds_each_name_with_its_config():
    vnect = build_model(ModelConfig(name="vnect", depth=18, num_joints=5))
    assert isinstance(vnect, VNect) and vnect.depth == 18 and vnect.num_joints == 5
    assert isinstance(build_model(ModelConfig(name="movnect", width=0.25)), MoVNect)
    lite = build_model(ModelConfig(name="litepose", width=0.25, kernel_size=5))
    assert isinstance(lite, LitePoseStudent)
    assert lite.stages[0][0].conv[1][0].kernel_size == (5, 5)
    assert set(MODEL_NAMES) == {"vnect", "movnect", "litepose"}


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*vnect, movnect, litepose"):
        build_model(ModelConfig(name="resnet"))  # type: ignore[arg-type]

"""Qualisys calibration reading: units, principal point, axes; bad files."""
import numpy as np
import pytest

from movnect.data.qualisys import read_qca

QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration><cameras>
<camera serial="cam07">
  <fov_video bottom="1919" left="8" right="1087" top="0"/>
  <transform r11="1" r12="0" r13="0" r21="0" r22="0" r23="1" r31="0" r32="-1" r33="0" x="100" y="-2000" z="1500"/>
  <intrinsic centerPointU="34560" centerPointV="61440" focalLengthU="107520" focalLengthV="107584"
    radialDistortion1="-3.2" radialDistortion2="6.4" radialDistortion3="0" tangentalDistortion1="0.064" tangentalDistortion2="-0.128"/>
</camera></cameras></calibration>"""


def test_read_qca_units_and_axes(tmp_path):
    p = tmp_path / "Calib.qca.txt"
    p.write_text(QCA)
    (v,) = read_qca(p)
    k = v.intrinsics
    assert v.name == "cam07" and (k.width, k.height) == (1080, 1920)
    assert k.focal == (1680.0, 1681.0) and k.center == (540.0 - 8, 960.0)
    assert k.radial == (-0.05, 0.1, 0.0) and k.tangential == (0.001, -0.002)
    assert np.allclose(v.C, [100, -2000, 1500])
    # X_cam = diag(1, -1, -1) M (X - C): this camera looks along world +y with world z up
    ahead, up = v.C + [0, 1000, 0], v.C + [0, 0, 1000]
    assert np.allclose(v.to_camera(ahead), [0, 0, 1000])
    assert np.allclose(v.to_camera(up), [0, -1000, 0])  # up in the world is -y (y down)


def test_read_qca_errors(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("not xml")
    with pytest.raises(ValueError, match="not a readable Qualisys"):
        read_qca(p)
    p.write_text("<calibration><cameras><camera serial='a'/></cameras></calibration>")
    with pytest.raises(ValueError, match="lacks fov_video"):
        read_qca(p)
    p.write_text("<calibration/>")
    with pytest.raises(ValueError, match="no <camera>"):
        read_qca(p)

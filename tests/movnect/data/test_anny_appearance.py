"""Clothing regions on the mesh and the material table."""
import numpy as np

from movnect.data.anny import appearance as A
from movnect.data.anny.body import Phenotype


def test_regions_follow_the_body(anny_body):
    b = anny_body
    p = Phenotype(0.0, 0.7, 0.5, 0.5, 0.5, 0.5)
    rest = b.rest(p)
    vb = b.vertex_bone
    hands = np.isin(vb, [b.bone(x) for x in b.bone_labels if x.startswith(("finger", "metacarpal"))])
    feet = np.isin(vb, [b.bone(x) for x in b.bone_labels if x.startswith(("foot", "toe"))])
    chest = vb == b.bone("spine01")
    seen = set()
    for seed in range(30):
        look = A.sample_look(np.random.default_rng(seed), b.bone_labels, vb, rest["vertices"], rest["heads"],
                             np.array([0.8, 0.6, 0.5]), p.gender)
        m = look.vertex_material
        assert m.shape == (b.num_vertices,) and m.max() < A.BODY_SLOTS
        assert np.all(m[hands] == A.SKIN)
        if not look.outfit["barefoot"]:
            assert np.mean(m[feet] == A.SHOES) > 0.99
        if not look.outfit["shirtless"]:
            assert np.mean(m[chest] == A.TOP) > 0.6
        assert (m == A.BOTTOM).sum() > 500
        if look.outfit["sleeve"] > 1 and look.outfit["leg_length"] == 1.0:
            fore = vb == b.bone("lowerarm01.L")
            assert np.mean(m[fore] == A.TOP) > 0.9
        seen.add(int(look.materials["pattern"][A.TOP, 0]))
        for k, d in (("color_a", 3), ("color_b", 3), ("pattern", 4), ("axis", 3)):
            assert look.materials[k].shape == (A.BODY_SLOTS, d)
        assert 0 <= look.materials["color_a"].min() and look.materials["color_a"].max() <= 1
    assert len(seen) >= 4  # solid, stripes, checks, prints, knit all occur

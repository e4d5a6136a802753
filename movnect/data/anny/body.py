"""The Anny body model (PyPI `anny==0.6.2`): loading, phenotypes, skin tones, posing.

Anny's frame (its rest mesh and rig): metres, x = the person's left, -y = forward (the face
looks towards -y), z = up; the root bone's head sits at the pelvis. 104 bones, 13,718
vertices, 27,420 triangles (`AnnyBody.faces`).

The first instantiation on a machine builds Anny's model-data cache (about 45-55 s on the
2-core VM here); later ones load it in about 2 s. The cache goes to `cache_dir()`:
$ANNY_CACHE_DIR when set, else $XDG_CACHE_HOME/movnect/anny (default ~/.cache/movnect/anny).

Rest meshes come from Anny's own blend-shape path (`get_rest_model` on the coefficients of
`_get_phenotype_blendshape_coefficients`, a private method of the pinned anny 0.6.2) so two
phenotypes can share one batched call.

Posing uses Anny's 'world-orient' parameterisation: for each bone a world rotation G (the
rotation of that bone away from its rest orientation, about its head); each head follows its
parent, so the skeleton stays connected whatever G is. `motion.py` computes the G's.
"""
from __future__ import annotations

import os
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from movnect.data.anny import RendererUnavailable

PHENOTYPE_LABELS = ("gender", "age", "muscle", "weight", "height", "proportions")

# Anny's age anchors: -1/3 newborn, 0 baby, 1/3 child, 2/3 young adult, 1 old. The range used
# here starts between child and young adult (teenagers; checked by the heights in
# tests/movnect/data/test_anny_body.py) and ends at old.
AGE_TEEN, AGE_YOUNG, AGE_OLD = 0.52, 2.0 / 3.0, 1.0


def cache_dir() -> Path:
    """Where Anny's model-data cache lives (see the module docstring)."""
    env = os.environ.get("ANNY_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "movnect" / "anny"


def ensure_cache() -> bool:
    """Build Anny's model-data cache in this process if `cache_dir()` holds none yet.

    Anny writes its cache without a lock or an atomic rename, so worker processes that all
    start on an empty cache would build it at once and could read each other's half-written
    file; the writer calls this in the parent first. Returns True when it had to build.
    """
    path = cache_dir()
    if path.is_dir() and any(f.is_file() for f in path.rglob("*")):
        return False
    AnnyBody()
    return True


@dataclass(frozen=True)
class Phenotype:
    """Anny's phenotype parameters, each in [0, 1] (gender: 0 male, 1 female)."""

    gender: float
    age: float
    muscle: float
    weight: float
    height: float
    proportions: float

    def as_array(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=np.float32)


def sample_phenotype(rng: np.random.Generator) -> Phenotype:
    """A random teenager or adult of either gender, any build.

    gender: Beta(0.4, 0.4) (mostly clearly male or female, some in between); age: 15 %
    teenagers (AGE_TEEN..AGE_YOUNG), else adults AGE_YOUNG..AGE_OLD skewed to the young;
    muscle, weight: Beta(2, 2) (thin to heavy, average most likely); height, proportions:
    uniform over most of their range.
    """
    gender = float(rng.beta(0.4, 0.4))
    if rng.uniform() < 0.15:
        age = float(rng.uniform(AGE_TEEN, AGE_YOUNG))
    else:
        age = float(AGE_YOUNG + (AGE_OLD - AGE_YOUNG) * rng.uniform() ** 1.6)
    return Phenotype(gender, age, float(rng.beta(2, 2)), float(0.03 + 0.94 * rng.beta(2, 2)),
                     float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.1, 0.9)))


def sample_stature(rng: np.random.Generator, phenotype: Phenotype) -> float:
    """A standing height in metres for a phenotype: adults N(1.75, 0.075) male, N(1.62, 0.07)
    female (blended by gender), teenagers up to 12 cm shorter; clipped to 1.45-2.02 m."""
    g = phenotype.gender
    mean, sd = 1.75 * (1 - g) + 1.62 * g, 0.075 * (1 - g) + 0.07 * g
    teen = max(0.0, (AGE_YOUNG - phenotype.age) / (AGE_YOUNG - AGE_TEEN))
    return float(np.clip(rng.normal(mean, sd) - 0.12 * teen, 1.45, 2.02))


# Skin tones (sRGB 0-255) from very light to very dark, roughly the Fitzpatrick / Monk scales.
SKIN_TONES = np.array([
    (246, 221, 204), (240, 205, 180), (230, 190, 160), (222, 176, 140), (205, 158, 122),
    (190, 140, 104), (170, 118, 84), (146, 98, 66), (122, 80, 54), (98, 64, 44), (78, 50, 36),
    (60, 40, 30),
], dtype=np.float64)


def sample_skin(rng: np.random.Generator) -> np.ndarray:
    """(3,) sRGB skin colour in [0, 1]: a tone of SKIN_TONES (uniform) with a small hue jitter."""
    c = SKIN_TONES[rng.integers(len(SKIN_TONES))] / 255.0
    c = c * rng.uniform(0.94, 1.06) + rng.normal(0.0, 0.015, 3)
    return np.clip(c, 0.0, 1.0)


class AnnyBody:
    """One Anny model (float32, torch linear blend skinning) and its fixed topology.

    Build one per process (it holds a few hundred MB); instantiation is the slow part.
    """

    def __init__(self) -> None:
        try:
            import torch
            import anny
            import anny.paths
        except ImportError as exc:
            raise RendererUnavailable(
                f"the Anny renderer needs the body model package anny==0.6.2 ({exc}); "
                "install it with: pip install -e '.[synth]'") from None
        path = cache_dir()
        path.mkdir(parents=True, exist_ok=True)
        anny.paths.set_anny_cache_path(path)
        self._torch = torch
        with torch.no_grad():
            model = anny.Anny(skinning_method="lbs").float()
        self.model = model
        self.bone_labels: tuple[str, ...] = tuple(model.bone_labels)
        self.parents = np.array([-1] + [int(p) for p in model.bone_parents[1:]], dtype=np.int64)
        self.faces = np.ascontiguousarray(model.faces.cpu().numpy().astype(np.int32))
        # dominant bone of each vertex (skinning weights), for clothing regions
        w = model.vertex_bone_weights.cpu().numpy()
        idx = model.vertex_bone_indices.cpu().numpy()
        self.vertex_bone = idx[np.arange(len(idx)), w.argmax(axis=1)].astype(np.int64)
        self.vertex_weights = (idx, w)
        self._rest_cache: dict[tuple, dict[str, np.ndarray]] = {}
        # one UV per vertex (from any of its face corners; seams pick one side): for texture masks
        uv = model.texture_coordinates.cpu().numpy().astype(np.float64)
        corner = model.face_texture_coordinate_indices.cpu().numpy()
        self.vertex_uv = np.zeros((self.num_vertices, 2))
        self.vertex_uv[self.faces.reshape(-1)] = uv[corner.reshape(-1)]

    def bone(self, label: str) -> int:
        return self.bone_labels.index(label)

    @property
    def num_vertices(self) -> int:
        return len(self.vertex_bone)

    def _rest_batch(self, phenotypes: list[Phenotype]) -> list[dict[str, np.ndarray]]:
        torch = self._torch
        params = torch.from_numpy(np.stack([p.as_array() for p in phenotypes]))
        with torch.no_grad():
            out = self.model.get_rest_model(self.model._get_phenotype_blendshape_coefficients(
                params, params.new_zeros((len(phenotypes), len(self.model.local_change_labels))),
                params.new_zeros((len(phenotypes), len(self.model.facial_action_labels)))))
        poses = out["rest_bone_poses"].numpy().astype(np.float64)
        verts = out["rest_vertices"].numpy().astype(np.float64)
        return [{"vertices": verts[i], "heads": poses[i, :, :3, 3].copy(), "orient": poses[i, :, :3, :3].copy()}
                for i in range(len(phenotypes))]

    def rest(self, phenotype: Phenotype) -> dict[str, np.ndarray]:
        """Rest pose of a phenotype: vertices (V, 3) m, bone heads (104, 3) m, orientations (104, 3, 3).

        The last few results are cached (a sequence asks for the same body several times).
        """
        key = tuple(phenotype.as_array().tolist())
        if key not in self._rest_cache:
            if len(self._rest_cache) >= 4:
                self._rest_cache.pop(next(iter(self._rest_cache)))
            self._rest_cache[key] = self._rest_batch([phenotype])[0]
        return self._rest_cache[key]

    def stature(self, phenotype: Phenotype) -> float:
        """Rest-pose height (top of the head to the soles), metres."""
        z = self.rest(phenotype)["vertices"][:, 2]
        return float(z.max() - z.min())

    def with_stature(self, phenotype: Phenotype, metres: float) -> Phenotype:
        """The phenotype with its `height` parameter set so that the body is `metres` tall.

        Anny's stature is close to linear in `height` (checked: 1.418 / 1.909 / 2.399 m at
        0.05 / 0.5 / 0.95 for a young man), so two rest poses and one linear step give it to
        about a centimetre (tested); the parameter is clipped to [0, 1].
        """
        from dataclasses import replace

        lo, hi = self._rest_batch([replace(phenotype, height=0.0), replace(phenotype, height=1.0)])
        h0, h1 = (float(r["vertices"][:, 2].max() - r["vertices"][:, 2].min()) for r in (lo, hi))
        return replace(phenotype, height=float(np.clip((metres - h0) / max(h1 - h0, 1e-6), 0.0, 1.0)))

    def pose(self, phenotype: Phenotype, rotations: np.ndarray, root: np.ndarray) -> dict[str, np.ndarray]:
        """Posed meshes of one body.

        Args:
            phenotype: the body.
            rotations: (T, 104, 3, 3) world rotation of each bone away from its rest
                orientation, about its head (identity = rest pose).
            root: (T, 3) world position of the root bone's head, metres.
        Returns:
            vertices (T, V, 3) and bone heads (T, 104, 3), metres, Anny's axes.
        """
        rotations = np.asarray(rotations, dtype=np.float64)
        nb = len(self.bone_labels)
        if rotations.ndim != 4 or rotations.shape[1:] != (nb, 3, 3):
            raise ValueError(f"pose: expected rotations (T, {nb}, 3, 3), got {rotations.shape}")
        root = np.asarray(root, dtype=np.float64)
        if root.shape != (rotations.shape[0], 3):
            raise ValueError(f"pose: expected root ({rotations.shape[0]}, 3), got {root.shape}")
        torch = self._torch
        rest = self.rest(phenotype)
        t = rotations.shape[0]
        delta = np.zeros((t, nb, 4, 4), dtype=np.float32)
        delta[..., :3, :3] = rotations @ rest["orient"]
        delta[..., 3, 3] = 1.0
        delta[:, 0, :3, 3] = root
        pheno = torch.from_numpy(np.repeat(phenotype.as_array()[None], t, 0))
        with torch.no_grad():
            out = self.model(pose_parameters=torch.from_numpy(delta), phenotype_kwargs=pheno,
                             pose_parameterization="world-orient")
        return {"vertices": out["vertices"].numpy().astype(np.float64),
                "heads": out["bone_poses"][..., :3, 3].numpy().astype(np.float64)}

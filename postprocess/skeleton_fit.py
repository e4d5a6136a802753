"""Kinematic skeleton fitting: global pose (root position + joint rotations) per frame.

Energy (VNect, Mehta et al. 2017) over the pose of a rig with fixed, personalised bone lengths
    E = w_ik E_ik + w_proj E_proj + w_smooth E_smooth + w_depth E_depth
    E_ik     = sum_j c_j |(P_j - d) - P^L_j|^2              root-relative 3D agrees (mm^2)
    E_proj   = sum_j c_j (Z_d / f)^2 |pi(P_j) - K_j|^2      2D reprojection, px -> mm (mm^2)
    E_smooth = sum_j |P_j - (P^{t-1}_j + (P^{t-1}_j - P^{t-2}_j) dt_t / dt_{t-1})|^2
    E_depth  = sum_j (Z_j - Z^{t-1}_j)^2
All terms are in mm^2 (a pixel counts as Z_d / f mm, the lateral size of a pixel at the body's
depth), so VNect's weights (1, 44, 0.07, 0.11) are dimensionless ratios. c_j = confidence;
a joint below `min_confidence` or NaN is held: its 3D target becomes its previous fitted
root-relative position with weight `hold_weight`, its 2D term is dropped.

Unknowns (29, no gauge freedom): root position d; global rotations of pelvis and thorax (each
carries its three child bones rigidly, as BVH and avatar rigs do); unit directions of the 10
other bones. P = d + A @ B (A: root-to-joint path matrix, B: bone vectors), so bone lengths
are exact by construction and the Jacobian is analytic. Levenberg-Marquardt with a 29 x 29
Cholesky solve, warm-started from the previous frame (closed-form start on the first frame:
Kabsch pelvis/thorax, predicted bone directions, linear least-squares translation from 2D).
Joint rotations follow from the fitted positions (kinematics.rotations_from_positions).
Details, measured speed and accuracy: docs/postprocess.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.linalg import lapack

from movnect.camera import Intrinsics, undistort
from movnect.rotations import cross, matrix_to_quaternion, quaternion_to_matrix, skew
from movnect.skeleton import NUM_JOINTS, PARENTS
from postprocess.kinematics import (
    REST_DIRECTIONS, Skeleton, estimate_bone_lengths, global_to_local, kabsch_rotation, rotations_from_positions,
)

__all__ = ["FitConfig", "FitResult", "SkeletonFitter", "estimate_bone_lengths", "fit_sequence"]

ROOT_BONES = np.array([1, 4, 7])        # child joints of the pelvis
THORAX_BONES = np.array([9, 11, 14])    # child joints of the thorax
FREE_BONES = np.array([2, 3, 5, 6, 8, 10, 12, 13, 15, 16])  # bones with their own direction
BONE_ORDER = np.concatenate([ROOT_BONES, THORAX_BONES, FREE_BONES])  # internal bone order
N_FREE = len(FREE_BONES)
N_PARAMS = 9 + 2 * N_FREE


def _path_matrix() -> np.ndarray:
    """(17, 16): [j, i] = 1 if bone BONE_ORDER[i] lies on the path root -> j."""
    a = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
    col = {int(c): i for i, c in enumerate(BONE_ORDER)}
    for j in range(1, NUM_JOINTS):
        k = j
        while k > 0:
            a[j, col[k]] = 1.0
            k = PARENTS[k]
    return a


PATH = _path_matrix()


@dataclass(frozen=True)
class FitConfig:
    """Weights (VNect's defaults) and solver settings; see the module docstring for units."""

    w_ik: float = 1.0
    w_proj: float = 44.0
    w_smooth: float = 0.07
    w_depth: float = 0.11
    iterations: int = 1            # LM iterations per frame when warm-started (see docs)
    init_iterations: int = 15      # LM iterations on the first frame / after reset
    damping: float = 1e-3          # initial Marquardt lambda
    min_confidence: float = 0.1    # joints below it (or NaN) are held, see hold_weight
    hold_weight: float = 0.5       # IK weight pulling a held joint to its previous fitted place
    min_valid_joints: int = 4      # fewer usable joints: the previous pose is held
    default_depth_mm: float = 4000.0  # translation guess when the 2D cannot give one
    joint_limits: bool = False     # knees bend backwards only; knee / elbow bend <= max_bend
    max_bend: float = 2.8          # radians

    def __post_init__(self) -> None:
        for name in ("w_ik", "w_proj", "w_smooth", "w_depth", "damping", "min_confidence", "hold_weight"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"FitConfig.{name} must be finite and >= 0, got {v}")
        if self.iterations < 1 or self.init_iterations < 1 or self.min_valid_joints < 1:
            raise ValueError("FitConfig: iterations, init_iterations, min_valid_joints must be >= 1")


@dataclass
class FitResult:
    """One fitted frame. Positions in mm in the camera frame (x right, y down, z forward).

    Joint rotations are derived from the positions on first access (kinematics.
    rotations_from_positions), so a caller that needs positions only does not pay for them.
    """

    joints: np.ndarray             # (17, 3) global joint positions
    pelvis: np.ndarray = field(repr=False)   # (3, 3) solved global rotation of joint 0
    thorax: np.ndarray = field(repr=False)   # (3, 3) solved global rotation of joint 8
    reprojection_error_px: float = float("nan")  # mean over joints with 2D (undistorted px)
    cost: float = float("nan")     # final energy, mm^2
    held: bool = False             # too few usable joints: previous pose repeated
    timestamp: float = float("nan")

    @property
    def root_position(self) -> np.ndarray:
        return self.joints[0]

    @property
    def root_relative(self) -> np.ndarray:
        return self.joints - self.joints[:1]

    @cached_property
    def global_rotations(self) -> np.ndarray:
        """(17, 3, 3) rotation of each joint's frame (rest pose = identity)."""
        return rotations_from_positions(self.joints, self.pelvis, self.thorax)

    @cached_property
    def local_rotations(self) -> np.ndarray:
        """(17, 3, 3) rotations relative to the parent (root: = global)."""
        return global_to_local(self.global_rotations)

    def local_quaternions(self) -> np.ndarray:
        """(17, 4) local rotations as (w, x, y, z)."""
        return matrix_to_quaternion(self.local_rotations)

    def global_quaternions(self) -> np.ndarray:
        """(17, 4) global rotations as (w, x, y, z)."""
        return matrix_to_quaternion(self.global_rotations)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt((v * v).sum(-1, keepdims=True)), 1e-12)


def _tangent_basis(u: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors -> (n, 3, 2) orthonormal bases of their tangent planes.

    Branch-free construction of Duff et al. (JCGT 2017), continuous except at z = 0 sign flips.
    """
    x, y, z = u.T
    sign = np.where(z >= 0.0, 1.0, -1.0)
    a = -1.0 / (sign + z)
    bxy = x * y * a
    out = np.empty(u.shape + (2,))
    out[:, 0, 0], out[:, 1, 0], out[:, 2, 0] = 1.0 + sign * x * x * a, sign * bxy, -sign * x
    out[:, 0, 1], out[:, 1, 1], out[:, 2, 1] = bxy, sign + y * y * a, -y
    return out


@dataclass
class _Data:
    """Per-frame inputs of the residuals (all float64)."""

    k: np.ndarray       # (17, 2) 2D joints, undistorted pixels (0 where missing)
    pl: np.ndarray      # (17, 3) root-relative 3D, mm (0 where missing)
    s_ik: np.ndarray    # (16, 1) sqrt weights of the IK residuals (joints 1..16)
    s_pj: np.ndarray    # (17,) sqrt weights of the 2D residuals, px -> mm included
    p_hat: np.ndarray   # (17, 3) constant-velocity prediction, mm (unused when s_sm = 0)
    z_prev: np.ndarray  # (17,) previous depths, mm (unused when s_dp = 0)
    s_sm: float
    s_dp: float


N_ROWS = 48 + 34 + 51 + 17   # IK (16 x 3), 2D (17 x (u, v)), smooth (17 x 3), depth (17)
_D_TILE = np.tile(np.eye(3), (NUM_JOINTS, 1))
_EYE3 = np.eye(3)


class SkeletonFitter:
    """Streaming fitter: call `fit` once per frame with increasing timestamps.

    Args:
        skeleton: personalised bone lengths (see `estimate_bone_lengths`).
        intrinsics: camera of the images the 2D joints are in (lens distortion is removed
            from the 2D input before fitting; the model itself is a pinhole).
        config: weights and solver settings.
    """

    def __init__(self, skeleton: Skeleton, intrinsics: Intrinsics, config: FitConfig = FitConfig()) -> None:
        self.skeleton, self.intrinsics, self.config = skeleton, intrinsics, config
        off = skeleton.offsets
        self._off_root, self._off_thorax = off[ROOT_BONES], off[THORAX_BONES]
        self._len_free = np.asarray(skeleton.bone_lengths)[FREE_BONES - 1]
        self._f = np.asarray(intrinsics.focal, dtype=np.float64)
        self._c = np.asarray(intrinsics.center, dtype=np.float64)
        if not (np.all(np.isfinite(self._f)) and np.all(self._f > 0)):
            raise ValueError(f"SkeletonFitter: focal lengths must be > 0, got {intrinsics.focal}")
        self._f_mean = float(self._f.mean())
        self._distorted = any(intrinsics.radial) or any(intrinsics.tangential)
        self._fr = 6 + np.arange(N_FREE)
        self._fc = 9 + 2 * np.arange(N_FREE)
        self.reset()

    def reset(self) -> None:
        """Forget the pose and the history (next frame starts from the closed-form guess)."""
        self._state: tuple[np.ndarray, ...] | None = None  # d, pelvis, thorax, free dirs, bases
        self._history: list[tuple[float, np.ndarray]] = []
        self._last: FitResult | None = None
        self._t: float | None = None
        self._count = 0

    def _prepare(self, joints2d, joints3d, confidence):
        k = np.asarray(joints2d, dtype=np.float64)
        pl = np.asarray(joints3d, dtype=np.float64)
        if k.shape != (NUM_JOINTS, 2) or pl.shape != (NUM_JOINTS, 3):
            raise ValueError(f"SkeletonFitter.fit: expected joints2d ({NUM_JOINTS}, 2) and joints3d "
                             f"({NUM_JOINTS}, 3), got {k.shape} and {pl.shape}")
        c = np.ones(NUM_JOINTS) if confidence is None else np.asarray(confidence, dtype=np.float64)
        if c.shape != (NUM_JOINTS,):
            raise ValueError(f"SkeletonFitter.fit: expected confidence ({NUM_JOINTS},), got {c.shape}")
        c = np.where(np.isfinite(c), np.clip(c, 0.0, 1.0), 0.0)
        good = c >= self.config.min_confidence
        ok2 = good & np.isfinite(k).all(-1)
        ok3 = good & np.isfinite(pl).all(-1)
        k = np.where(ok2[:, None], k, 0.0)
        pl = np.where(ok3[:, None], pl - (pl[0] if ok3[0] else 0.0), 0.0)  # root-relative
        if self._distorted and ok2.any():
            xy = undistort((k - self._c) / self._f, self.intrinsics, iterations=8)
            k = np.where(ok2[:, None], xy * self._f + self._c, 0.0)
        return k, pl, np.where(ok2, c, 0.0), np.where(ok3, c, 0.0)

    def _bones(self, g0, g8, uf) -> np.ndarray:
        b = np.empty((NUM_JOINTS - 1, 3))
        b[0:3] = self._off_root @ g0.T
        b[3:6] = self._off_thorax @ g8.T
        b[6:] = self._len_free[:, None] * uf
        return b

    def _evaluate(self, state, data: _Data, jac: bool):
        """Residuals (N_ROWS,), Jacobian (N_ROWS, N_PARAMS) or None, positions (17, 3), and the
        state with its tangent bases filled in (they define the direction steps of `_apply`)."""
        d, g0, g8, uf, tb = state
        b = self._bones(g0, g8, uf)
        rel = PATH @ b
        p = rel + d
        iz = 1.0 / np.maximum(p[:, 2], 1.0)
        n2 = p[:, :2] * iz[:, None]                 # normalised image coordinates
        r = np.empty(N_ROWS)
        r[0:48] = (data.s_ik * (rel[1:] - data.pl[1:])).ravel()
        r[48:82] = (data.s_pj[:, None] * (n2 * self._f + self._c - data.k)).ravel()
        r[82:133] = (data.s_sm * (p - data.p_hat)).ravel()
        r[133:] = data.s_dp * (p[:, 2] - data.z_prev)
        if not jac:
            return r, None, p, state
        if tb is None:
            tb = _tangent_basis(uf)
            state = (d, g0, g8, uf, tb)
        jb = np.zeros((NUM_JOINTS - 1, 3, N_PARAMS))
        sk = skew(b[0:6])
        jb[0:3, :, 3:6] = -sk[:3]
        jb[3:6, :, 6:9] = -sk[3:]
        lt = self._len_free[:, None, None] * tb
        jb[self._fr, :, self._fc] = lt[..., 0]
        jb[self._fr, :, self._fc + 1] = lt[..., 1]
        jrel = (PATH @ jb.reshape(NUM_JOINTS - 1, -1)).reshape(NUM_JOINTS, 3, N_PARAMS)
        j = np.empty((N_ROWS, N_PARAMS))
        j[0:48] = (data.s_ik[..., None] * jrel[1:]).reshape(48, N_PARAMS)
        jd = jrel[:, :2] - n2[..., None] * jrel[:, 2:3]   # d(X/Z, Y/Z) * Z
        jd[:, :, 0:2] += np.eye(2)
        jd[:, :, 2] -= n2
        j[48:82] = ((data.s_pj * iz)[:, None, None] * self._f[:, None] * jd).reshape(34, N_PARAMS)
        j[82:133] = data.s_sm * jrel.reshape(-1, N_PARAMS)
        j[82:133, 0:3] += data.s_sm * _D_TILE
        j[133:] = data.s_dp * jrel[:, 2]
        j[133:, 2] += data.s_dp
        return r, j, p, state

    def _apply(self, state, delta):
        d, g0, g8, uf, tb = state
        w = delta[3:9].reshape(2, 3)
        theta = np.sqrt((w * w).sum(-1))[:, None, None] + 1e-300
        k = skew(w)
        half = np.sin(theta / 2.0) / theta
        rot = _EYE3 + (np.sin(theta) / theta) * k + (2.0 * half * half) * (k @ k)   # Rodrigues
        uf = _unit(uf + (tb @ delta[9:].reshape(-1, 2, 1))[..., 0])
        if self.config.joint_limits:
            uf = self._limit(g0, uf)
        return d + delta[:3], rot[0] @ g0, rot[1] @ g8, uf, None

    def _limit(self, g0: np.ndarray, uf: np.ndarray) -> np.ndarray:
        """Knees bend backwards only (w.r.t. the pelvis' left axis); knee/elbow bend <= max_bend."""
        uf = uf.copy()
        for upper, lower in ((0, 1), (2, 3)):       # right and left leg in FREE_BONES order
            back = _unit(cross(g0[:, 0], uf[upper]))
            if uf[lower] @ back < 0.0:
                uf[lower] = _unit(uf[lower] - (uf[lower] @ back) * back)
        mb = self.config.max_bend
        for upper, lower in ((0, 1), (2, 3), (6, 7), (8, 9)):
            a, b = uf[upper], uf[lower]
            if a @ b < np.cos(mb):
                uf[lower] = np.cos(mb) * a + np.sin(mb) * _unit(b - (a @ b) * a)
        return uf

    def _initial_state(self, k, pl, w2, w3):
        """Closed-form guess: Kabsch pelvis/thorax, predicted bone directions, LS translation."""
        def rigid(joint, children, fallback):
            w = np.where((w3[children] > 0) & (w3[joint] > 0 or joint == 0), w3[children], 0.0)
            r = kabsch_rotation(REST_DIRECTIONS[children], _unit(pl[children] - pl[joint]), w)
            return fallback if r is None else r

        g0 = rigid(0, ROOT_BONES, np.eye(3))
        g8 = rigid(8, THORAX_BONES, g0)
        par = np.asarray(PARENTS)[FREE_BONES]
        legs = np.isin(FREE_BONES, (2, 3, 5, 6, 8))[:, None]
        rest = np.where(legs, REST_DIRECTIONS[FREE_BONES] @ g0.T, REST_DIRECTIONS[FREE_BONES] @ g8.T)
        ok = (w3[FREE_BONES] > 0) & ((w3[par] > 0) | (par == 0))
        uf = np.where(ok[:, None], _unit(pl[FREE_BONES] - pl[par]), rest)
        if self.config.joint_limits:
            uf = self._limit(g0, uf)
        rel = PATH @ self._bones(g0, g8, uf)
        d = np.array([0.0, 0.0, self.config.default_depth_mm])
        sel = w2 > 0
        if np.count_nonzero(sel) >= 2:   # (X + d_x) - x (Z + d_z) = 0, same for y: linear in d
            xy, q = (k[sel] - self._c) / self._f, rel[sel]
            one, zero = np.ones(len(q)), np.zeros(len(q))
            a = np.concatenate([np.stack([one, zero, -xy[:, 0]], -1), np.stack([zero, one, -xy[:, 1]], -1)])
            rhs = np.concatenate([xy[:, 0] * q[:, 2] - q[:, 0], xy[:, 1] * q[:, 2] - q[:, 1]])
            sw = np.sqrt(np.concatenate([w2[sel], w2[sel]]))
            sol = np.linalg.lstsq(a * sw[:, None], rhs * sw, rcond=None)[0]
            if np.all(np.isfinite(sol)) and sol[2] > 100.0:
                d = sol
        return d, g0, g8, uf, None

    def fit(self, joints2d: np.ndarray, joints3d: np.ndarray, confidence: np.ndarray | None,
            t: float) -> FitResult | None:
        """Fit one frame.

        Args:
            joints2d: (17, 2) image pixels of `intrinsics`' image; NaN = missing.
            joints3d: (17, 3) root-relative 3D, mm, camera axes; NaN = missing.
            confidence: (17,) in [0, 1] or None (all 1).
            t: timestamp in seconds, strictly increasing.
        Returns:
            the fitted frame; the previous frame marked `held` when fewer than
            `min_valid_joints` joints (or no 2D joint) are usable; None if that happens before
            any frame could be fitted.
        """
        t = float(t)
        if not np.isfinite(t) or (self._t is not None and t <= self._t):
            raise ValueError(f"SkeletonFitter.fit: timestamps must be finite and increase strictly, "
                             f"got {t} after {self._t}")
        k, pl, w2, w3 = self._prepare(joints2d, joints3d, confidence)
        self._t = t
        cfg = self.config
        if np.count_nonzero((w2 > 0) | (w3 > 0)) < cfg.min_valid_joints or not np.any(w2 > 0):
            if self._last is None:
                return None
            last = self._last
            self._push(t, last.joints)
            self._last = FitResult(last.joints, last.pelvis, last.thorax, float("nan"), last.cost, True, t)
            return self._last
        first = self._state is None
        state = self._initial_state(k, pl, w2, w3) if first else self._state
        hist = self._history
        p_hat, z_prev, s_sm, s_dp = np.zeros((NUM_JOINTS, 3)), np.zeros(NUM_JOINTS), 0.0, 0.0
        if hist:
            z_prev, s_dp = hist[-1][1][:, 2], float(np.sqrt(cfg.w_depth))
            held = w3 <= 0     # hold: previous fitted root-relative position, weak weight
            if held[1:].any():
                pl = np.where(held[:, None], hist[-1][1] - hist[-1][1][0], pl)
                w3 = np.where(held, cfg.hold_weight, w3)
        if len(hist) == 2:
            ratio = min(max((t - hist[1][0]) / (hist[1][0] - hist[0][0]), 0.0), 3.0)
            p_hat, s_sm = hist[1][1] + (hist[1][1] - hist[0][1]) * ratio, float(np.sqrt(cfg.w_smooth))
        px_mm = max(float(state[0][2]), 100.0) / self._f_mean
        data = _Data(k, pl, np.sqrt(cfg.w_ik * w3[1:])[:, None], np.sqrt(cfg.w_proj * w2) * px_mm,
                     p_hat, z_prev, s_sm, s_dp)

        lam = cfg.damping
        r, jac, p, state = self._evaluate(state, data, jac=True)
        cost = float(r @ r)
        n_iter = cfg.init_iterations if first else cfg.iterations
        for it in range(n_iter):
            h = jac.T @ jac
            h.flat[:: N_PARAMS + 1] = h.flat[:: N_PARAMS + 1] * (1.0 + lam) + 1e-9
            _, delta, info = lapack.dposv(h, -(jac.T @ r))
            if info != 0:
                break
            cand = self._apply(state, delta)
            r_new, jac_new, p_new, cand = self._evaluate(cand, data, jac=it < n_iter - 1)
            c_new = float(r_new @ r_new)
            if c_new <= cost:
                state, r, jac, p, cost = cand, r_new, jac_new, p_new, c_new
                lam = max(lam / 3.0, 1e-7)
            else:
                lam *= 10.0
            if jac is None or np.abs(delta).max() < 1e-10:
                break
        self._count += 1
        if self._count % 64 == 0:  # exp-map products drift from orthonormal by ~1e-16 a frame
            d, g0, g8, uf, tb = state
            g0, g8 = quaternion_to_matrix(matrix_to_quaternion(np.stack([g0, g8])))
            state = (d, g0, g8, uf, tb)
            p = PATH @ self._bones(g0, g8, uf) + d
        self._state = state
        proj = p[:, :2] / np.maximum(p[:, 2:], 1.0) * self._f + self._c
        reproj = float(np.sqrt(((proj - k) ** 2).sum(-1))[w2 > 0].mean())
        self._push(t, p)
        self._last = FitResult(p, state[1], state[2], reproj, cost, False, t)
        return self._last

    def _push(self, t: float, p: np.ndarray) -> None:
        self._history = (self._history + [(t, p)])[-2:]


def fit_sequence(joints2d: np.ndarray, joints3d: np.ndarray, confidence: np.ndarray | None,
                 timestamps: np.ndarray, intrinsics: Intrinsics, skeleton: Skeleton | None = None,
                 config: FitConfig = FitConfig(), personalise_frames: int = 60) -> dict:
    """Offline fit of a whole sequence (inputs as given: filter them first if wanted).

    Unless `skeleton` is given, bone lengths are the medians over the first
    `personalise_frames` frames of the 3D smoothed by VNect's 3D 1-Euro filter: raw per-frame
    noise would inflate them (E|b + n| > |b|: +10-20 % on short bones at 25 mm noise).
    Args: (T, 17, 2) px, (T, 17, 3) root-relative mm, (T, 17) or None, (T,) seconds.
    Returns: dict with skeleton, results (list of FitResult or None), joints (T, 17, 3) mm
        (NaN before the first fit), reprojection_error_px (T,), held (T,) bool.
    """
    from postprocess.one_euro import VNECT_3D, OneEuroFilter, vnect_scale_3d

    k, x = np.asarray(joints2d, dtype=np.float64), np.asarray(joints3d, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    n = ts.shape[0] if ts.ndim == 1 else -1
    if n < 1 or k.shape != (n, NUM_JOINTS, 2) or x.shape != (n, NUM_JOINTS, 3):
        raise ValueError(f"fit_sequence: expected (T, 17, 2), (T, 17, 3), (T,), got {k.shape}, {x.shape}, {ts.shape}")
    conf = np.ones((n, NUM_JOINTS)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if conf.shape != (n, NUM_JOINTS):
        raise ValueError(f"fit_sequence: expected confidence ({n}, {NUM_JOINTS}), got {conf.shape}")
    if skeleton is None:
        m, f3 = max(1, min(personalise_frames, n)), OneEuroFilter(VNECT_3D)
        smooth = np.stack([f3(x[i], ts[i], scale=vnect_scale_3d(), valid=conf[i] >= config.min_confidence)
                           for i in range(m)])
        skeleton = estimate_bone_lengths(smooth, conf[:m])
    fitter = SkeletonFitter(skeleton, intrinsics, config)
    results = [fitter.fit(k[i], x[i], conf[i], ts[i]) for i in range(n)]
    nan = np.full((NUM_JOINTS, 3), np.nan)
    return {"skeleton": skeleton, "results": results,
            "joints": np.stack([nan if r is None else r.joints for r in results]),
            "reprojection_error_px": np.array([np.nan if r is None else r.reprojection_error_px for r in results]),
            "held": np.array([r is None or r.held for r in results])}

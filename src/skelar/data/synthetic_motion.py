"""Body model and action programs behind the synthetic dataset (see :mod:`skelar.data.synthetic`).

A person is posed in a *body frame* (metres; x = the person's right, y = up, z = the person's back,
so "forward" is -z; the floor is y = 0). The trunk, neck and head follow joint angles through a
kinematic chain (the NTU-25 tree re-rooted at SpineBase); arms and legs are solved with two-bone
inverse kinematics towards end-effector targets (wrists, ankles); hands and feet are rigid frames
attached to the forearm and the ankle. Every bone of the layout therefore keeps its length in
every frame. Each action class is a function that turns a :class:`MotionContext` (timing, subject
traits, random draws) into a :class:`Motion` (trajectories of pelvis, trunk angles and targets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "ACTIONS",
    "Subject",
    "MotionContext",
    "Motion",
    "make_subject",
    "make_context",
    "rest_motion",
    "idle_motion",
    "add_habits",
    "pose_body",
    "rot_x",
    "rot_y",
    "rot_z",
]

FPS = 30.0

# NTU-25 joint indices (the layout's order)
SPINE_BASE, SPINE_MID, NECK, HEAD = 0, 1, 2, 3
SHOULDER = {-1: 4, 1: 8}
ELBOW = {-1: 5, 1: 9}
WRIST = {-1: 6, 1: 10}
HAND = {-1: 7, 1: 11}
HIP = {-1: 12, 1: 16}
KNEE = {-1: 13, 1: 17}
ANKLE = {-1: 14, 1: 18}
FOOT = {-1: 15, 1: 19}
SPINE_SHOULDER = 20
HAND_TIP = {-1: 21, 1: 23}
THUMB = {-1: 22, 1: 24}
SIDES = (1, -1)  # right, left

# average adult bone lengths (metres), close to what Kinect v2 reports in NTU RGB+D
BASE_LENGTHS = {
    "lumbar": 0.27,  # SpineBase -> SpineMid
    "thoracic": 0.21,  # SpineMid -> SpineShoulder
    "neck": 0.07,  # SpineShoulder -> Neck
    "head": 0.13,  # Neck -> Head
    "clavicle": 0.16,  # SpineShoulder -> Shoulder
    "upper_arm": 0.26,
    "forearm": 0.24,
    "hand": 0.07,  # Wrist -> Hand
    "thumb": 0.045,  # Hand -> Thumb
    "hand_tip": 0.05,  # Thumb -> HandTip
    "hip": 0.09,  # SpineBase -> Hip
    "thigh": 0.38,
    "shin": 0.38,
    "foot": 0.12,  # Ankle -> Foot
}
ANKLE_HEIGHT = 0.08


# -- rotations (batched over frames) --------------------------------------------------------------
def _stack_rot(rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def rot_x(a: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations about x; positive angles turn +y towards +z."""
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack_rot([[o, z, z], [z, c, -s], [z, s, c]])


def rot_y(a: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations about the vertical axis; positive angles turn +z towards +x."""
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack_rot([[c, z, s], [z, o, z], [-s, z, c]])


def rot_z(a: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations about z; positive angles turn +x towards +y."""
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack_rot([[c, -s, z], [s, c, z], [z, z, o]])


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate ``v`` ((3,) or (T, 3)) by ``r`` (T, 3, 3)."""
    if v.ndim == 1:
        return r @ v
    return np.einsum("tij,tj->ti", r, v)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(v * v, axis=-1, keepdims=True))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(_norm(v), 1e-9)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    return np.stack(
        [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2], a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]],
        axis=-1,
    )


# -- time profiles ------------------------------------------------------------------------------------
def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease ``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def pulse(u: np.ndarray, reps: int, hold: float) -> np.ndarray:
    """``reps`` smooth bumps over ``u`` in [0, 1]: rise, hold a fraction ``hold`` at 1, fall."""
    x = np.clip(u, 0.0, 1.0) * reps
    f = x - np.minimum(np.floor(x), reps - 1)
    rise = max((1.0 - hold) / 2.0, 1e-3)
    return smoothstep(f / rise) * smoothstep((1.0 - f) / rise)


def bump(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """A smooth sin^2 bump that is non-zero only for ``a < x < b``."""
    y = np.clip((x - a) / (b - a), 0.0, 1.0)
    return np.sin(np.pi * y) ** 2


def keyframes(x: np.ndarray, xs: list[float], ys: list[float]) -> np.ndarray:
    """Interpolate ``(xs, ys)`` keys at ``x`` with smoothstep easing between keys."""
    xs_a, ys_a = np.asarray(xs), np.asarray(ys)
    i = np.clip(np.searchsorted(xs_a, x, side="right") - 1, 0, len(xs_a) - 2)
    w = smoothstep((x - xs_a[i]) / (xs_a[i + 1] - xs_a[i]))
    return ys_a[i] + w * (ys_a[i + 1] - ys_a[i])


# -- subjects -----------------------------------------------------------------------------------------
@dataclass
class Subject:
    """Per-person traits: bone lengths, posture, tempo, amplitude and style draws in [0, 1]."""

    lengths: dict[str, float]
    speed: float
    amplitude: float
    handed: int  # +1 right-handed, -1 left-handed
    lean: float  # habitual trunk flexion (rad)
    head_tilt: float
    arm_out: float  # how far the hanging arms sit from the body (arm lengths)
    elbow_rest: float  # habitual elbow bend at rest (fraction of reach lost)
    stance: float  # extra half-distance between the ankles (m)
    style: np.ndarray  # (8,) per-subject choices between action variants

    @property
    def arm(self) -> float:
        return self.lengths["upper_arm"] + self.lengths["forearm"]

    @property
    def leg(self) -> float:
        return self.lengths["thigh"] + self.lengths["shin"]

    @property
    def stand_height(self) -> float:
        """Pelvis height with nearly straight legs."""
        return ANKLE_HEIGHT + 0.985 * self.leg + self.lengths["hip"] * 0.55


def make_subject(rng: np.random.Generator) -> Subject:
    """Draw one person's traits (height 0.84-1.14 of average, proportions +-4-6 %)."""
    scale = rng.uniform(0.84, 1.14)
    arms, legs, trunk, width = rng.normal(1.0, [0.04, 0.04, 0.04, 0.06])
    group = {
        "lumbar": trunk, "thoracic": trunk, "neck": trunk, "head": 1.0, "clavicle": width,
        "upper_arm": arms, "forearm": arms, "hand": 1.0, "thumb": 1.0, "hand_tip": 1.0,
        "hip": width, "thigh": legs, "shin": legs, "foot": 1.0,
    }  # fmt: skip
    lengths = {k: float(v * scale * group[k]) for k, v in BASE_LENGTHS.items()}
    return Subject(
        lengths=lengths,
        speed=float(np.exp(rng.normal(0.0, 0.18))),
        amplitude=float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3)),
        handed=1 if rng.random() < 0.85 else -1,
        lean=float(rng.normal(0.04, 0.05)),
        head_tilt=float(rng.normal(0.05, 0.08)),
        arm_out=float(rng.uniform(0.04, 0.2)),
        elbow_rest=float(rng.uniform(0.01, 0.12)),
        stance=float(rng.uniform(0.0, 0.12)),
        style=rng.random(8),
    )


# -- motion programs ----------------------------------------------------------------------------------
@dataclass
class MotionContext:
    """Timing and draws for one performance: window, warped phase ``u`` and activity envelope."""

    T: int
    subject: Subject
    rng: np.random.Generator
    s: np.ndarray  # (T,) linear time over the action window, clipped to [0, 1]
    u: np.ndarray  # (T,) monotone time-warped phase, 0 -> 1 over the window
    env: np.ndarray  # (T,) smooth 0 -> 1 -> 0 activity envelope
    window_sec: float
    amp: float  # subject amplitude x per-sample jitter
    speed: float  # subject tempo x per-sample jitter
    style: np.ndarray  # subject style + per-sample wobble, in [0, 1]

    def cycles(self, hz: float, lo: float, hi: float) -> float:
        """How many cycles of an action at ``hz`` (scaled by tempo) fit the window, clipped."""
        return float(np.clip(hz * self.speed * self.window_sec, lo, hi))

    def reps(self, lo: int, hi: int) -> int:
        """A random repetition count in ``lo..hi`` (inclusive)."""
        return int(self.rng.integers(lo, hi + 1))

    def cycle_phase(self, hz: float, lo: float, hi: float) -> np.ndarray:
        """Position in [0, 1) within the current repetition of an exercise done at ``hz``, random start."""
        x = self.cycles(hz, lo, hi) * self.u + self.rng.uniform(0.0, 1.0)
        return x - np.floor(x)


CLIP_PROB = 0.35  # chance that a repetitive action is already under way, or still going, at the edges


def make_context(T: int, subject: Subject, rng: np.random.Generator, repetitive: bool = False) -> MotionContext:
    """Draw a performance's timing: idle lead-in/out, time warp, envelope, tempo/amplitude jitter.

    A ``repetitive`` action may overrun the recording: it is then cut at the start and/or the end.
    """
    t = np.arange(T, dtype=np.float64)
    idle = rng.uniform(0.1, 0.65) * T  # idle frames before and after the action
    t0 = rng.uniform(0.0, 1.0) * idle
    t1 = t0 + T - idle
    if repetitive and rng.random() < CLIP_PROB:
        cut = rng.integers(1, 4)  # 1: cut at the start, 2: at the end, 3: both
        t0 = t0 - (rng.uniform(0.2, 0.5) * T if cut & 1 else 0.0)
        t1 = t1 + (rng.uniform(0.2, 0.5) * T if cut & 2 else 0.0)
    s = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    a1, a2 = rng.uniform(-0.4, 0.4, size=2)
    u = s + a1 * np.sin(2 * np.pi * s) / (2 * np.pi) + a2 * np.sin(4 * np.pi * s) / (4 * np.pi)
    r = rng.uniform(0.08, 0.2)
    env = smoothstep(s / r) * smoothstep((1.0 - s) / r)
    return MotionContext(
        T=T,
        subject=subject,
        rng=rng,
        s=s,
        u=u,
        env=env,
        window_sec=(t1 - t0) / FPS,
        amp=subject.amplitude * float(np.exp(rng.normal(0.0, 0.08))),
        speed=subject.speed * float(np.exp(rng.normal(0.0, 0.08))),
        style=np.clip(subject.style + rng.normal(0.0, 0.12, size=subject.style.shape), 0.0, 1.0),
    )


@dataclass
class Motion:
    """Trajectories in the body frame. Arm targets are wrist positions relative to the shoulder in
    arm lengths, written as ``(outward, up, forward)`` (mirrored per side); leg targets are ankle
    positions ``(outward, height, forward)`` in metres on the floor frame."""

    pelvis: np.ndarray  # (T, 3) body frame, metres
    bend: np.ndarray  # trunk flexion forward (rad)
    side: np.ndarray  # trunk lateral bend towards the right (rad)
    twist: np.ndarray  # trunk rotation about the vertical (rad)
    nod: np.ndarray  # head flexion forward (rad)
    arm: dict[int, np.ndarray]  # side -> (T, 3) wrist target (out, up, fwd), arm lengths
    arm_pole: dict[int, np.ndarray]  # side -> (T, 3) elbow direction hint (out, up, fwd)
    arm_in_chest: dict[int, bool]  # targets follow the chest (True) or the upright body (False)
    touch_head: dict[int, np.ndarray]  # side -> (T,) weight pulling the wrist to the head
    ankle: dict[int, np.ndarray]  # side -> (T, 3) ankle target (out, height, fwd), metres
    foot_pitch: dict[int, np.ndarray]  # side -> (T,) foot rotation upwards (rad)
    lift: np.ndarray  # (T,) airborne height (m)
    head_spot: tuple[float, float, float] = (0.11, 0.02, -0.02)  # where a hand touches the head (out, up, fwd)
    busy_arms: tuple[int, ...] = ()  # arms the action needs (the others may take an idle habit)
    busy_legs: bool = False  # the action needs the legs (otherwise the person may shift a foot)


def _tile(v, T: int) -> np.ndarray:
    return np.tile(np.asarray(v, dtype=np.float64), (T, 1))


def rest_motion(ctx: MotionContext) -> Motion:
    """Standing at ease: the subject's posture with a little sway and breathing."""
    sub, T, rng = ctx.subject, ctx.T, ctx.rng
    t = np.arange(T) / FPS
    ph = rng.uniform(0, 2 * np.pi, size=3)
    pelvis = np.zeros((T, 3))
    pelvis[:, 0] = 0.012 * np.sin(2 * np.pi * 0.25 * t + ph[0])
    pelvis[:, 1] = sub.stand_height + 0.004 * np.sin(2 * np.pi * 0.3 * t + ph[1])
    pelvis[:, 2] = 0.006 * np.sin(2 * np.pi * 0.2 * t + ph[2])
    # people shuffle: a slow drift of the whole body over the recording (pelvis and feet together)
    drift = np.array([rng.normal(0.0, 0.06), 0.0, rng.normal(0.0, 0.06)]) * smoothstep(t / max(t[-1], 1e-9))[:, None]
    pelvis += drift
    hip_w = sub.lengths["hip"] * 0.85
    reach = 0.97 - sub.elbow_rest
    lean, side, nod = rng.normal(0.0, [0.05, 0.03, 0.06])  # today's posture
    return Motion(
        pelvis=pelvis,
        bend=np.full(T, sub.lean + lean),
        side=np.full(T, side),
        twist=np.zeros(T),
        nod=np.full(T, sub.head_tilt + nod),
        arm={s: _tile([sub.arm_out, -reach, 0.03 + sub.elbow_rest], T) for s in SIDES},
        arm_pole={s: _tile([0.3, 0.0, -1.0], T) for s in SIDES},
        arm_in_chest={s: False for s in SIDES},
        touch_head={s: np.zeros(T) for s in SIDES},
        ankle={s: _tile([hip_w + sub.stance, ANKLE_HEIGHT, 0.0], T) + drift * np.array([s, 1.0, -1.0]) for s in SIDES},
        foot_pitch={s: np.zeros(T) for s in SIDES},
        lift=np.zeros(T),
    )


def _blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = w[:, None] if a.ndim == 2 else w
    return a + w * (b - a)


def _arc(theta: np.ndarray, out: np.ndarray | float, reach: float) -> np.ndarray:
    """Wrist target on a circle of radius ``reach`` swung from hanging (theta=0) forwards/up;
    ``out`` in [0, 1] tilts the swing plane from sagittal (0) to lateral (1)."""
    out = np.broadcast_to(out, theta.shape)
    d_out, d_fwd = np.sin(out * np.pi / 2), np.cos(out * np.pi / 2)
    return np.stack([reach * np.sin(theta) * d_out, -reach * np.cos(theta), reach * np.sin(theta) * d_fwd], -1)


def idle_motion(ctx: MotionContext) -> Motion:
    """A bystander: rest posture, slow weight shifts and glances, perhaps an idle habit."""
    m = rest_motion(ctx)
    t = np.arange(ctx.T) / FPS
    ph = ctx.rng.uniform(0, 2 * np.pi, size=3)
    m.pelvis[:, 0] += 0.03 * np.sin(2 * np.pi * 0.15 * t + ph[0])
    m.twist = 0.15 * np.sin(2 * np.pi * 0.1 * t + ph[1])
    m.nod = m.nod + 0.1 * np.sin(2 * np.pi * 0.2 * t + ph[2])
    return add_habits(m, ctx)


# Arm habits of people who are not using that arm: wrist target (out, up, fwd) and elbow hint.
_HOLDS = (
    ((0.12, -0.72, -0.05), (1.0, 0.0, -0.4)),  # hand on the hip, elbow out
    ((-0.28, -0.62, 0.3), (1.0, -0.5, -0.2)),  # hand in front of the belly
    ((-0.32, -0.3, 0.3), (1.0, -1.0, 0.0)),  # hand on the chest
    ((0.05, -0.45, 0.35), (0.5, -1.0, -0.3)),  # holding something in front
    (None, (1.0, -0.3, 0.0)),  # hand at the ear (a phone), via the head-touch weight
)
HABIT_PROB = 0.5  # chance that an arm the action does not need takes up a habit
STEP_PROB = 0.4  # chance that a person whose legs are free shifts a foot once


def _habit_weight(T: int, rng: np.random.Generator) -> np.ndarray:
    """How much a habit is adopted over time: held throughout, taken up, given up, or both."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return np.ones(T)
    t = np.arange(T) / max(T - 1, 1)
    dur = min(rng.uniform(0.3, 1.0) * FPS / T, 0.5)  # a transition takes 0.3-1 s
    a = rng.uniform(0.0, 1.0 - dur)
    up = smoothstep((t - a) / dur)
    if kind == 1:
        return up
    if kind == 2:
        return 1.0 - up
    b = rng.uniform(a + dur, 1.0 + dur)
    return up * (1.0 - smoothstep((t - b) / dur))


def add_habits(m: Motion, ctx: MotionContext) -> Motion:
    """Give free limbs what people do with them: arm habits (a hand on the hip, at the ear, ...)
    held throughout or taken up/given up during the recording, and sometimes one small step."""
    T, rng = ctx.T, ctx.rng
    for s in SIDES:
        if s in m.busy_arms or rng.random() >= HABIT_PROB:
            continue
        target, pole = _HOLDS[int(rng.integers(0, len(_HOLDS)))]
        w = _habit_weight(T, rng)
        if target is None:
            m.touch_head[s] = w
        else:
            m.arm[s] = _blend(m.arm[s], _tile(np.asarray(target) + rng.normal(0.0, 0.04, size=3), T), w)
        m.arm_pole[s] = _blend(m.arm_pole[s], _tile(pole, T), w)
    if not m.busy_legs and rng.random() < STEP_PROB:
        s = int(rng.choice(SIDES))
        mid = rng.uniform(0.15, 0.85)
        half = rng.uniform(0.2, 0.35) * FPS / T  # half the step's duration, in sequence fractions
        x = np.clip((np.arange(T) / max(T - 1, 1) - (mid - half)) / (2 * half), 0.0, 1.0)
        shift = np.array([rng.uniform(-0.05, 0.15), 0.0, rng.uniform(-0.15, 0.15)]) * smoothstep(x)[:, None]
        m.ankle[s] = m.ankle[s] + shift + np.array([0.0, rng.uniform(0.04, 0.1), 0.0]) * np.sin(np.pi * x)[:, None] ** 2
        m.pelvis = m.pelvis + 0.5 * shift * np.array([s, 0.0, -1.0])
    return m


def _wave(side: int) -> Callable[[MotionContext], Motion]:
    def program(ctx: MotionContext) -> Motion:
        m = rest_motion(ctx)
        st, amp = ctx.style, ctx.amp
        c = ctx.cycles(2.0, 2.0, 6.0)
        osc = np.sin(2 * np.pi * c * ctx.u + ctx.rng.uniform(0, 2 * np.pi))
        up = 0.1 + 0.55 * st[0]  # from shoulder-height waving to the hand high above the head
        raised = np.stack(
            [np.full(ctx.T, -0.1 + 0.55 * st[1]) + (0.16 + 0.12 * st[3]) * amp * osc, np.full(ctx.T, up), np.full(ctx.T, 0.05 + 0.35 * st[2])], -1
        )
        m.arm[side] = _blend(m.arm[side], raised, ctx.env)
        m.arm_pole[side] = _blend(m.arm_pole[side], _tile([1.0, -0.7, 0.2], ctx.T), ctx.env)
        m.side = m.side - side * 0.04 * ctx.env
        m.busy_arms = (side,)
        return m

    return program


def _clap(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st = ctx.subject, ctx.style
    c = ctx.cycles(2.3, 2.0, 8.0)
    gap = 0.03 + 0.3 * ctx.amp * (0.5 + 0.5 * np.cos(2 * np.pi * c * ctx.u + ctx.rng.uniform(0, 2 * np.pi)))
    half = sub.lengths["clavicle"] * 0.95
    for s in SIDES:
        out = (-half + gap / 2 + 0.01 * s * sub.handed) / sub.arm
        tgt = np.stack([out, np.full(ctx.T, -0.6 + 0.5 * st[0]), np.full(ctx.T, 0.3 + 0.35 * st[1])], -1)
        m.arm[s] = _blend(m.arm[s], tgt, ctx.env)
        m.arm_pole[s] = _blend(m.arm_pole[s], _tile([1.0, -0.6, 0.0], ctx.T), ctx.env)
    m.nod = m.nod + 0.08 * ctx.env
    m.busy_arms = SIDES
    return m


def _kick(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st, s = ctx.subject, ctx.style, 1
    reps = ctx.reps(1, 2)
    x = np.clip(ctx.u, 0, 1) * reps
    x = x - np.minimum(np.floor(x), reps - 1)
    top = (0.3 + 0.9 * st[0]) * min(ctx.amp, 1.15)  # hip flexion at full extension: shin to chest height
    alpha = keyframes(x, [0, 0.3, 0.5, 0.72, 1.0], [0, 0.8 * top, top, 0.7 * top, 0])
    ext = keyframes(x, [0, 0.3, 0.5, 0.72, 1.0], [0.985, 0.55 + 0.2 * st[1], 0.97, 0.6, 0.985])
    hip_h = m.pelvis[:, 1] - sub.lengths["hip"] * 0.55
    leg = sub.leg * ext
    m.ankle[s] = np.stack([m.ankle[s][:, 0], hip_h - leg * np.cos(alpha), m.ankle[s][:, 2] + leg * np.sin(alpha)], -1)
    m.ankle[s][:, 1] = np.maximum(m.ankle[s][:, 1], ANKLE_HEIGHT)
    m.foot_pitch[s] = 0.8 * alpha
    if st[5] > 0.5:  # step forward with the other foot first, and back at the end
        u = np.clip(ctx.u, 0.0, 1.0)
        w = smoothstep(u / 0.12) * (1.0 - smoothstep((u - 0.88) / 0.12))
        d = ctx.rng.uniform(0.1, 0.25)
        m.ankle[-s] = m.ankle[-s] + np.stack([np.zeros(ctx.T), 0.06 * (bump(u, 0.0, 0.12) + bump(u, 0.88, 1.0)), d * w], -1)
        m.pelvis[:, 2] -= 0.5 * d * w
    m.bend = m.bend - 0.2 * alpha
    effort = np.sin(np.pi * x) ** 2
    for a in SIDES:
        m.arm[a] = m.arm[a] + effort[:, None] * np.array([0.1 + 0.3 * st[2], 0.1, 0.1 * a])
    m.busy_legs = True
    return m


def _squat(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st = ctx.subject, ctx.style
    p = pulse(ctx.cycle_phase(0.5, 1.0, 3.0), 1, 0.1 + 0.3 * st[0]) * ctx.env
    depth = (0.18 + 0.25 * st[1]) * sub.leg * min(ctx.amp, 1.2)
    m.pelvis[:, 1] -= depth * p
    m.pelvis[:, 2] += 0.35 * depth * p  # hips go back
    m.bend = m.bend + (0.2 + 0.6 * st[2]) * p
    if st[3] > 0.4:  # arms forward for balance; otherwise the arms stay free (hanging or a habit)
        for s in SIDES:
            m.arm[s] = _blend(m.arm[s], _arc(np.full(ctx.T, 1.0 + 0.6 * st[4]), 0.1, 0.95), p)
        m.busy_arms = SIDES
    m.busy_legs = True
    return m


def _jump(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st = ctx.subject, ctx.style
    x = ctx.cycle_phase(0.9, 1.0, 4.0)
    crouch = (bump(x, 0.02, 0.38) + 0.8 * bump(x, 0.6, 0.95)) * ctx.env
    flight = bump(x, 0.34, 0.64) ** 0.5 * ctx.env
    height = (0.06 + 0.2 * st[0]) * min(ctx.amp, 1.2)
    m.pelvis[:, 1] -= (0.1 + 0.12 * st[1]) * sub.leg * crouch
    m.pelvis[:, 2] += 0.05 * crouch
    m.lift = height * flight
    m.bend = m.bend + (0.2 + 0.3 * st[3]) * crouch
    for s in SIDES:
        m.foot_pitch[s] = -0.5 * flight
    if st[4] > 0.3:  # arm swing: back in the crouch, forward and up in the air
        for s in SIDES:
            swing = -0.7 * crouch + (1.0 + 1.8 * st[2]) * flight
            m.arm[s] = _blend(m.arm[s], _arc(swing, 0.15, 0.93), np.clip(crouch + flight, 0, 1))
        m.busy_arms = SIDES
    m.busy_legs = True
    return m


def _bow(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    st = ctx.style
    p = pulse(ctx.u, ctx.reps(1, 2), 0.15 + 0.35 * st[0])
    angle = (0.4 + 0.7 * st[1]) * min(ctx.amp, 1.2)
    m.bend = m.bend + angle * p
    m.pelvis[:, 1] -= 0.08 * st[4] * ctx.subject.leg * p  # some bend their knees a little
    m.pelvis[:, 2] += 0.1 * angle * p
    m.nod = m.nod + (0.1 + 0.25 * st[2]) * p
    if st[3] > 0.6:  # hands slide down the front of the thighs
        for s in SIDES:
            m.arm[s] = _blend(m.arm[s], _tile([-0.1, -0.85, 0.35], ctx.T), p)
        m.busy_arms = SIDES
    return m


def _punch(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st = ctx.subject, ctx.style
    c = ctx.cycles(1.2, 1.5, 4.0)
    phase = 2 * np.pi * c * ctx.u + ctx.rng.uniform(-1.0, 1.0)
    guard = np.array([-0.1 - 0.15 * st[3], -0.45 + 0.3 * st[0], 0.3 + 0.1 * st[4]])
    hit = np.array([-0.3 - 0.15 * st[1], -0.1 + 0.2 * st[2], 0.95])
    for s in SIDES:
        lead = 0.0 if s == sub.handed else np.pi
        strike = (0.5 + 0.5 * np.sin(phase + lead - np.pi / 2)) ** 3 * ctx.env
        tgt = guard + strike[:, None] * (hit - guard)
        m.arm[s] = _blend(m.arm[s], tgt, ctx.env)
        m.arm_pole[s] = _blend(m.arm_pole[s], _tile([0.8, -1.0, -0.2], ctx.T), ctx.env)
        m.twist = m.twist + s * 0.12 * strike
    m.busy_arms = SIDES
    return m


def _raise_arms(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    st = ctx.style
    p = pulse(ctx.cycle_phase(0.5, 1.0, 4.0), 1, 0.1 + 0.4 * st[0]) * ctx.env
    top = (2.3 + 0.75 * st[1]) * min(ctx.amp, 1.1)
    plane = 0.15 + 0.7 * st[2]  # raise through the front (0) or through the sides (1)
    for s in SIDES:
        m.arm[s] = _blend(m.arm[s], _arc(top * p, plane, 0.97), smoothstep(p * 4))
        m.arm_pole[s] = _tile([0.5, 0.0, -1.0], ctx.T)
    m.bend = m.bend - 0.08 * p
    m.nod = m.nod - 0.15 * p
    m.busy_arms = SIDES
    return m


def _walk(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    sub, st = ctx.subject, ctx.style
    c = ctx.cycles(0.9, 1.5, 5.0)
    psi = 2 * np.pi * c * ctx.u + ctx.rng.uniform(0, 2 * np.pi)
    height = (0.08 + 0.2 * st[0]) * sub.leg * min(ctx.amp, 1.2)
    swing_arms = st[3] > 0.3
    for s in SIDES:
        lift = np.maximum(0.0, s * np.sin(psi)) ** 1.5 * ctx.env
        m.ankle[s] = m.ankle[s] + np.stack([np.zeros(ctx.T), height * lift, -0.15 * height * lift], -1)
        m.foot_pitch[s] = 0.2 * lift
        if swing_arms:
            swing = -(0.2 + 0.3 * st[1]) * s * np.sin(psi) * ctx.env
            m.arm[s] = _arc(swing, 0.1, 0.9 - 0.15 * st[2]) + np.array([m.arm[s][0, 0], 0.0, 0.0])
    m.pelvis[:, 0] += 0.025 * np.sin(psi) * ctx.env
    m.pelvis[:, 1] -= 0.02 * np.abs(np.sin(psi)) * ctx.env
    m.busy_arms = SIDES if swing_arms else ()
    m.busy_legs = True
    return m


def _twist(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    st = ctx.style
    c = ctx.cycles(0.6, 1.0, 3.0)
    m.twist = (0.45 + 0.4 * st[0]) * min(ctx.amp, 1.2) * np.sin(2 * np.pi * c * ctx.u + ctx.rng.uniform(0, 2 * np.pi)) * ctx.env
    m.nod = m.nod + 0.1 * ctx.env
    if st[1] < 0.5:  # arms spread, turning with the chest
        for s in SIDES:
            m.arm[s] = _blend(m.arm[s], _tile([0.8, -0.3 + 0.3 * st[2], 0.3], ctx.T), ctx.env)
            m.arm_in_chest[s] = True
            m.arm_pole[s] = _tile([1.0, -1.0, 0.0], ctx.T)
        m.busy_arms = SIDES
    elif st[1] < 0.8:  # hands on the hips
        for s in SIDES:
            m.arm[s] = _blend(m.arm[s], _tile(_HOLDS[0][0], ctx.T), ctx.env)
            m.arm_pole[s] = _tile(_HOLDS[0][1], ctx.T)
        m.busy_arms = SIDES
    return m


def _touch_head(ctx: MotionContext) -> Motion:
    m = rest_motion(ctx)
    st = ctx.style
    s = ctx.subject.handed if ctx.rng.random() < 0.5 else -ctx.subject.handed  # either hand
    p = pulse(ctx.u, 1, 0.4 + 0.4 * st[0])
    m.touch_head[s] = p
    spots = ((0.11, 0.02, -0.02), (0.03, 0.12, 0.0), (0.0, 0.04, 0.1))  # side, top, forehead
    m.head_spot = spots[min(int(st[3] * 3), 2)]
    m.arm_pole[s] = _blend(m.arm_pole[s], _tile([1.0, -0.2, -0.2], ctx.T), p)
    m.side = m.side + s * (0.02 + 0.08 * st[1]) * p
    m.nod = m.nod + (0.05 + 0.15 * st[2]) * p
    m.busy_arms = (s,)
    return m


# (name, program, repetitive): repetitive actions may be cut by the recording's edges
ACTIONS: list[tuple[str, Callable[[MotionContext], Motion], bool]] = [
    ("wave right hand", _wave(1), True),
    ("wave left hand", _wave(-1), True),
    ("clap", _clap, True),
    ("kick (right leg)", _kick, False),
    ("squat", _squat, True),
    ("jump", _jump, True),
    ("bow", _bow, False),
    ("punch (alternating arms)", _punch, True),
    ("raise both arms", _raise_arms, True),
    ("walk in place", _walk, True),
    ("twist torso", _twist, True),
    ("touch head", _touch_head, False),
]


# -- posing -------------------------------------------------------------------------------------------
def _two_bone(root: np.ndarray, target: np.ndarray, a: float, b: float, pole: np.ndarray):
    """Middle and end joint of a two-bone limb reaching from ``root`` towards ``target``."""
    d = target - root
    dist = _norm(d)
    n = d / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(a - b) + 1e-3, (a + b) * 0.9995)
    cos_a = (a * a + dist * dist - b * b) / (2 * a * dist)
    sin_a = np.sqrt(np.clip(1.0 - cos_a * cos_a, 0.0, 1.0))
    m = pole - np.sum(pole * n, axis=-1, keepdims=True) * n
    # a pole parallel to the limb leaves the bend direction undefined: fall back to any perpendicular
    alt = _cross(n, np.array([1.0, 0.0, 0.0]))
    bad = _norm(m) < 1e-6
    m = _unit(np.where(bad, alt, m))
    mid = root + a * (cos_a * n + sin_a * m)
    end = root + dist * n
    return mid, end


def _mirror(v: np.ndarray, s: int) -> np.ndarray:
    """``(out, up, fwd)`` -> body-frame ``(x, y, z)`` for side ``s``."""
    return np.stack([s * v[..., 0], v[..., 1], -v[..., 2]], -1)


def pose_body(m: Motion, sub: Subject) -> np.ndarray:
    """Joint positions ``(T, 25, 3)`` in the body frame (floor at y=0) for motion ``m``."""
    L = sub.lengths
    T = len(m.bend)
    P = np.zeros((T, 25, 3))
    pelvis = m.pelvis.copy()
    pelvis[:, 1] += m.lift
    # trunk: flexion shared by pelvis (hips), lumbar and thoracic joints; twist and side bend by the spine
    r_pelvis = rot_y(0.2 * m.twist) @ rot_x(-0.55 * m.bend)
    r_mid = r_pelvis @ rot_y(0.4 * m.twist) @ rot_z(-0.5 * m.side) @ rot_x(-0.25 * m.bend)
    r_chest = r_mid @ rot_y(0.4 * m.twist) @ rot_z(-0.5 * m.side) @ rot_x(-0.2 * m.bend)
    r_head = r_chest @ rot_x(-m.nod)
    P[:, SPINE_BASE] = pelvis
    P[:, SPINE_MID] = pelvis + _apply(r_pelvis, np.array([0.0, L["lumbar"], 0.0]))
    P[:, SPINE_SHOULDER] = P[:, SPINE_MID] + _apply(r_mid, np.array([0.0, L["thoracic"], 0.0]))
    P[:, NECK] = P[:, SPINE_SHOULDER] + _apply(r_chest, _unit(np.array([0.0, 1.0, -0.15])) * L["neck"])
    P[:, HEAD] = P[:, NECK] + _apply(r_head, np.array([0.0, L["head"], 0.0]))
    up_body = np.array([0.0, 1.0, 0.0])
    for s in SIDES:
        clav = _unit(np.array([s * 0.96, -0.27, 0.05])) * L["clavicle"]
        P[:, SHOULDER[s]] = P[:, SPINE_SHOULDER] + _apply(r_chest, clav)
        # arm: wrist target in arm lengths, optionally pulled to the side of the head
        tgt = _mirror(m.arm[s], s) * sub.arm
        pole = _mirror(m.arm_pole[s], s)
        if m.arm_in_chest[s]:
            tgt, pole = _apply(r_chest, tgt), _apply(r_chest, pole)
        wrist_t = P[:, SHOULDER[s]] + tgt
        w = m.touch_head[s][:, None]
        if np.any(w > 0):
            beside_head = P[:, HEAD] + _apply(r_head, _mirror(np.asarray(m.head_spot), s))
            # aim the wrist so that the hand (one hand length further) lands beside the head
            wrist_t = wrist_t + w * (beside_head - _apply(r_head, up_body) * L["hand"] - wrist_t)
        elbow, wrist = _two_bone(P[:, SHOULDER[s]], wrist_t, L["upper_arm"], L["forearm"], pole)
        P[:, ELBOW[s]], P[:, WRIST[s]] = elbow, wrist
        f = _unit(wrist - elbow)
        # a palm frame: e1 along the fingers, e2 towards the thumb
        hint = np.broadcast_to(np.array([0.0, 0.5, -1.0]), f.shape)
        e2 = hint - np.sum(hint * f, -1, keepdims=True) * f
        alt = np.broadcast_to(np.array([-s * 1.0, 0.0, 0.0]), f.shape)
        alt = alt - np.sum(alt * f, -1, keepdims=True) * f
        e2 = _unit(np.where(_norm(e2) < 0.3, alt, e2))
        e3 = _cross(f, e2)
        P[:, HAND[s]] = wrist + L["hand"] * f
        thumb_dir = np.array([0.45, 0.85, 0.27]) / np.linalg.norm([0.45, 0.85, 0.27])
        thumb_vec = L["thumb"] * thumb_dir
        tip_vec = np.array([L["hand_tip"] + 0.035, 0.0, 0.0])  # from the hand joint
        tip_rel = tip_vec - thumb_vec
        tip_rel = tip_rel / np.linalg.norm(tip_rel) * L["hand_tip"]
        frame = np.stack([f, e2, e3], -1)  # columns
        P[:, THUMB[s]] = P[:, HAND[s]] + _apply(frame, thumb_vec)
        P[:, HAND_TIP[s]] = P[:, THUMB[s]] + _apply(frame, tip_rel)
        # leg: ankle target on the floor frame, lifted with the body when airborne
        hip_vec = _unit(np.array([s * 0.85, -0.55, 0.0])) * L["hip"]
        P[:, HIP[s]] = pelvis + _apply(r_pelvis, hip_vec)
        ankle_t = _mirror(m.ankle[s], s)
        ankle_t[:, 1] += m.lift
        knee_pole = np.broadcast_to(np.array([s * 0.15, 0.0, -1.0]), ankle_t.shape)
        knee, ankle = _two_bone(P[:, HIP[s]], ankle_t, L["thigh"], L["shin"], knee_pole)
        P[:, KNEE[s]], P[:, ANKLE[s]] = knee, ankle
        pitch = m.foot_pitch[s]
        foot_dir = np.stack([np.zeros(T), -0.35 * np.cos(pitch) + np.sin(pitch), -np.cos(pitch) - 0.35 * np.sin(pitch)], -1)
        P[:, FOOT[s]] = ankle + L["foot"] * _unit(foot_dir)
    return P

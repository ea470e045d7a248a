"""A synthetic Ego4D-format dataset with planted cross-task structure (numpy only).

Generative model (see also ``docs/synthetic-data.md``):

* **Latent factors.** Verbs and nouns own orthonormal directions ``E_v[v]``, ``E_n[n]`` in R^D.
  A feature step inside an action (v, n) is ``a*E_v[v] + b*E_n[n] + u_video + sigma*eps``; a step
  between actions is ``c*E_bg + u_video + sigma*eps``. ``u_video`` is a per-video nuisance offset and
  the noise is strong, so a single clip is ambiguous and temporal context (the same video's
  neighbours) helps.
* **Grammar.** Verbs follow a sparse Markov chain (each verb has a few likely successors); a noun
  persists for a few actions (probability ``noun_persist``) before moving along a sparse noun chain.
  Long-term anticipation can learn both; recognition benefits from neighbours.
* **State change.** ``sc(v, n) = [v transforms] and [n deformable]``, flipped for a few exception
  pairs: a deterministic function of (verb, noun). OSCC annotations add label noise (``label_noise``).
* **Point of no return.** Each state-changing action has a PNR frame inside it; the feature step of
  that frame gets a transient ``pnr_amp*sigma*s`` along a signature direction ``s``. A fraction
  ``distractor_rate`` of the other actions gets the same transient (an attempt without a change), so
  the transient alone does not decide OSCC.
* **OSCC clips** are 8 s windows (parent frames) around actions of separate videos, with no other
  action's PNR inside, balanced on the true state change to about 50% positives before the label
  noise. The one action that decides
  the label fills only part of the window, under the same strong noise (its amplitude can be
  lowered with ``oscc_signal``), so OSCC is hard to learn from its few labels directly and much
  easier through what AR/LTA learn about verbs and nouns, and PNR about the transient.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from backpack.data.sampling import FPS, FRAMES_PER_FEATURE

VERBS = (
    "cut",
    "peel",
    "fold",
    "knead",
    "squeeze",
    "crack",
    "tear",
    "mix",
    "bend",
    "break",
    "take",
    "put",
    "move",
    "hold",
    "look",
    "open",
    "close",
    "wipe",
    "turn",
    "carry",
)
NOUNS = (
    "dough",
    "paper",
    "cloth",
    "potato",
    "onion",
    "sponge",
    "egg",
    "bread",
    "carrot",
    "clay",
    "tomato",
    "wire",
    "foil",
    "cardboard",
    "lettuce",
    "knife",
    "cup",
    "plate",
    "bowl",
    "spoon",
    "bottle",
    "box",
    "pan",
    "lid",
    "phone",
    "table",
    "door",
    "tap",
    "jar",
    "drawer",
)
TRANSFORMS = frozenset(VERBS[:10])  # verbs that can change an object's state
DEFORMABLE = frozenset(NOUNS[:15])  # nouns whose state can change
OSCC_SECONDS = 8.0


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and strengths of the generative model (``SIZES`` holds the named presets)."""

    dim: int = 128
    num_verbs: int = 10
    num_nouns: int = 15
    lta_videos: tuple[int, int] = (48, 12)  # train, val
    oscc_clips: tuple[int, int] = (400, 150)  # train, val (about half positive)
    lta_test_videos: int = 12  # fho_lta_test_unannotated.json
    oscc_test_clips: int = 150  # fho_oscc-pnr_test_unannotated.json
    lta_min_actions: int = 22  # per LTA clip: N + Z = 2 + 20, one window of the official protocol
    video_seconds: tuple[float, float] = (120.0, 240.0)
    action_seconds: tuple[float, float] = (2.5, 6.0)
    gap_seconds: tuple[float, float] = (0.3, 2.0)
    verb_amp: float = 1.0
    noun_amp: float = 1.0
    background_amp: float = 0.8
    noise: float = 0.6  # per channel; the noise vector's norm is noise * sqrt(dim)
    nuisance: float = 0.2  # per channel, per video
    pnr_amp: float = 3.0  # in units of `noise`, along the signature direction
    distractor_rate: float = 0.25
    label_noise: float = 0.05
    oscc_signal: float = 1.0
    # actions of OSCC videos: as in Ego4D's OSCC clips, the action of interest fills most of its 8 s window
    oscc_action_seconds: tuple[float, float] = (5.0, 7.5)
    noun_persist: float = 0.6
    successors: int = 3
    exceptions: int = 3
    # correlation of the noise of neighbouring feature steps (real windows overlap by half)
    noise_corr: float = 0.0
    # class imbalance: the grammar's transitions into class j are weighted by (j + 1) ** -class_skew
    class_skew: float = 0.0


SIZES: dict[str, SyntheticConfig] = {
    "small": SyntheticConfig(),
    "medium": SyntheticConfig(
        dim=256,
        num_verbs=20,
        num_nouns=30,
        lta_videos=(192, 48),
        oscc_clips=(1600, 600),
        lta_test_videos=48,
        oscc_test_clips=600,
        exceptions=8,
    ),
}


@dataclass
class World:
    """The latent parameters shared by every video of one seed."""

    verbs: tuple[str, ...]
    nouns: tuple[str, ...]
    verb_dirs: np.ndarray  # [V, D]
    noun_dirs: np.ndarray  # [N, D]
    background_dir: np.ndarray  # [D]
    signature_dir: np.ndarray  # [D]
    verb_chain: np.ndarray  # [V, V] row-stochastic
    noun_chain: np.ndarray  # [N, N] row-stochastic
    state_change: np.ndarray  # [V, N] bool, the rule with its exceptions


@dataclass
class Action:
    """One action of a synthetic video (absolute frames, end exclusive)."""

    start: int
    end: int
    verb: int
    noun: int
    changes: bool
    transient: int | None  # frame of the PNR (or distractor) transient, if any


@dataclass
class Video:
    uid: str
    frames: int
    actions: list[Action]
    feats: np.ndarray = field(repr=False)  # [T, D] float32


def _sparse_chain(rng: np.random.Generator, n: int, successors: int) -> np.ndarray:
    chain = np.full((n, n), 0.1 / n)
    for i in range(n):
        nxt = rng.choice(n, size=min(successors, n), replace=False)
        chain[i, nxt] += 0.9 * rng.dirichlet(np.ones(len(nxt)))
    return chain / chain.sum(axis=1, keepdims=True)


def _skewed(chain: np.ndarray, skew: float) -> np.ndarray:
    weights = (np.arange(chain.shape[1]) + 1.0) ** -skew
    out = chain * weights[None, :]
    return out / out.sum(axis=1, keepdims=True)


def make_world(cfg: SyntheticConfig, rng: np.random.Generator) -> World:
    """Draw the directions, the grammar and the state-change rule."""
    V, N, D = cfg.num_verbs, cfg.num_nouns, cfg.dim
    if V + N + 2 > D or V > len(VERBS) or N > len(NOUNS) or V < 2 or N < 2:
        raise ValueError(f"Invalid synthetic sizes: {V} verbs, {N} nouns, dim {D}.")
    if not 0.0 <= cfg.noise_corr < 1.0 or cfg.class_skew < 0:
        raise ValueError(
            f"Invalid synthetic noise_corr / class_skew. Expected [0, 1) and >= 0. "
            f"Got {cfg.noise_corr} / {cfg.class_skew}."
        )
    # half the verbs transform, half do not; likewise deformable / rigid nouns
    verbs = VERBS[: (V + 1) // 2] + VERBS[10 : 10 + V // 2]
    nouns = NOUNS[: (N + 1) // 2] + NOUNS[15 : 15 + N // 2]
    q, _ = np.linalg.qr(rng.standard_normal((D, V + N + 2)))
    dirs = q.T * np.sign(rng.standard_normal((V + N + 2, 1)))
    rule = np.outer([v in TRANSFORMS for v in verbs], [n in DEFORMABLE for n in nouns])
    flat = rng.choice(V * N, size=cfg.exceptions, replace=False)
    rule.flat[flat] = ~rule.flat[flat]
    verb_chain, noun_chain = _sparse_chain(rng, V, cfg.successors), _sparse_chain(rng, N, cfg.successors)
    if cfg.class_skew > 0:  # reweighting after the draws: the clean world's random stream is unchanged
        verb_chain, noun_chain = _skewed(verb_chain, cfg.class_skew), _skewed(noun_chain, cfg.class_skew)
    return World(
        verbs=verbs,
        nouns=nouns,
        verb_dirs=dirs[:V],
        noun_dirs=dirs[V : V + N],
        background_dir=dirs[V + N],
        signature_dir=dirs[V + N + 1],
        verb_chain=verb_chain,
        noun_chain=noun_chain,
        state_change=rule,
    )


def make_uid(rng: np.random.Generator) -> str:
    """A UUID-shaped id drawn from ``rng`` (deterministic per seed)."""
    h = rng.bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def make_actions(
    cfg: SyntheticConfig, world: World, rng: np.random.Generator, frames: int, min_actions: int = 0
) -> list[Action]:
    """An action sequence following the grammar, with PNR and distractor transients.

    The video goes on past ``frames`` until it holds ``min_actions`` (the caller lengthens it).
    """
    V, N = len(world.verbs), len(world.nouns)
    actions: list[Action] = []
    t = int(rng.uniform(*cfg.gap_seconds) * FPS)
    verb, noun = int(rng.integers(V)), int(rng.integers(N))
    while True:
        start = t
        end = start + int(rng.uniform(*cfg.action_seconds) * FPS)
        if end > frames - 2 * FRAMES_PER_FEATURE and len(actions) >= min_actions:
            return actions
        if actions:
            verb = int(rng.choice(V, p=world.verb_chain[verb]))
            if rng.random() >= cfg.noun_persist:
                noun = int(rng.choice(N, p=world.noun_chain[noun]))
        changes = bool(world.state_change[verb, noun])
        transient = None
        if changes or rng.random() < cfg.distractor_rate:
            transient = start + int(rng.uniform(0.3, 0.7) * (end - start))
        actions.append(Action(start, end, verb, noun, changes, transient))
        t = end + int(rng.uniform(*cfg.gap_seconds) * FPS)


def render_features(
    cfg: SyntheticConfig,
    world: World,
    rng: np.random.Generator,
    frames: int,
    actions: list[Action],
    signal: float,
) -> np.ndarray:
    """Feature steps of a video: windows of 32 frames, stride 16; step t is centred on frame 16t+16."""
    steps = (frames - 2 * FRAMES_PER_FEATURE) // FRAMES_PER_FEATURE + 1
    x = rng.standard_normal((steps, cfg.dim)) * cfg.noise
    if cfg.noise_corr > 0:  # AR(1) noise: same per-step variance, correlation noise_corr between neighbours
        rho, keep = cfg.noise_corr, float(np.sqrt(1.0 - cfg.noise_corr**2))
        for t in range(1, steps):
            x[t] = rho * x[t - 1] + keep * x[t]
    x += rng.standard_normal(cfg.dim) * cfg.nuisance
    centre = np.arange(steps) * FRAMES_PER_FEATURE + FRAMES_PER_FEATURE
    inside = np.zeros(steps, dtype=bool)
    for a in actions:
        sel = (centre >= a.start) & (centre < a.end)
        inside |= sel
        x[sel] += signal * (cfg.verb_amp * world.verb_dirs[a.verb] + cfg.noun_amp * world.noun_dirs[a.noun])
        if a.transient is not None:
            step = min(a.transient // FRAMES_PER_FEATURE, steps - 1)
            x[step] += cfg.pnr_amp * cfg.noise * world.signature_dir
    x[~inside] += cfg.background_amp * world.background_dir
    return x.astype(np.float32)


def make_video(
    cfg: SyntheticConfig,
    world: World,
    rng: np.random.Generator,
    signal: float = 1.0,
    min_actions: int = 0,
) -> Video:
    """One video: a uid, its duration, its actions (at least ``min_actions``: a video drawn too
    short is lengthened to end just after its last action) and its features."""
    uid = make_uid(rng)
    frames = int(rng.uniform(*cfg.video_seconds) * FPS)
    actions = make_actions(cfg, world, rng, frames, min_actions)
    if actions:
        frames = max(frames, actions[-1].end + 2 * FRAMES_PER_FEATURE)
    return Video(uid, frames, actions, render_features(cfg, world, rng, frames, actions, signal))


def size_config(size: str | SyntheticConfig) -> SyntheticConfig:
    """The preset called ``size`` (or ``size`` itself when it is a config)."""
    if isinstance(size, SyntheticConfig):
        return size
    if size not in SIZES:
        from backpack.errors import ConfigError, invalid

        raise ConfigError(invalid("size", "write_synthetic", " or ".join(map(repr, SIZES)), repr(size)))
    return SIZES[size]


def with_overrides(cfg: SyntheticConfig, **overrides: object) -> SyntheticConfig:
    """A copy of ``cfg`` with some fields changed (for experiments and tests)."""
    return replace(cfg, **overrides)  # type: ignore[arg-type]

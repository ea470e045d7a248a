"""Fixtures of the distributed tests: a tiny synthetic dataset, a tiny trained run, a torchrun helper.

Every multi-process test starts real processes with ``torchrun`` (gloo backend, CPU, 127.0.0.1),
so each launch costs a few seconds of imports: tests share fixtures to keep the launches few.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

JOB = Path(__file__).with_name("_distjob.py")
JOB_TIMEOUT_S = 150.0  # a normal job takes 5-60 s; a hung one must not stall the suite


def tiny_config():  # type: ignore[no-untyped-def]
    from backpack.data import SIZES
    from backpack.data.synthetic import with_overrides

    return with_overrides(
        SIZES["small"], dim=32, lta_videos=(8, 3), oscc_clips=(48, 24), video_seconds=(60.0, 90.0)
    )


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded synthetic Ego4D-format dataset, small enough for multi-process tests."""
    from backpack.data import write_synthetic

    return Path(write_synthetic(tmp_path_factory.mktemp("dist-data") / "data", seed=0, size=tiny_config()))


@pytest.fixture(scope="session")
def job_env() -> dict[str, str]:
    """Environment of the workers: CPU only, gloo, DGL on torch, quiet."""
    env = dict(
        os.environ,
        DGLBACKEND="pytorch",
        BACKPACK_DIST_BACKEND="gloo",
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        TQDM_DISABLE="1",
        PYTHONWARNINGS="ignore",
    )
    return env


@pytest.fixture(scope="session")
def torchrun(job_env: dict[str, str]) -> Callable[..., int]:
    """``torchrun(scenario, out, *args, nproc=2) -> exit code`` running ``_distjob.py`` under torchrun."""
    from backpack.cli.launch import launch

    def run(scenario: str, *args: str | Path, nproc: int = 2) -> int:
        return launch(
            [scenario, *map(str, args)], nproc, env=job_env, entry=[JOB.as_posix()], timeout=JOB_TIMEOUT_S
        )

    return run

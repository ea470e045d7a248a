"""Names that moved in the layout step keep working from their old packages for one release,
with a warning."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("backpack.learner", "build_prototypes", "backpack.pipeline"),
    ("backpack.learner", "learn_novel_task", "backpack.pipeline"),
    ("backpack.learner", "CrossTaskInteraction", "backpack.models"),
    ("backpack.learner", "LearnConfig", "backpack.pipeline"),
    ("backpack.training", "train_run", "backpack.pipeline"),
    ("backpack.training", "load_run", "backpack.pipeline"),
    ("backpack.training", "MultiTaskModel", "backpack.models"),
    ("backpack.tasks.data", "Ego4DDataset", "backpack.data"),
    ("backpack.tasks.data", "write_synthetic", "backpack.data"),
    ("backpack.distributed", "launch", "backpack.cli.launch"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED, ids=[f"{o}.{n}" for o, n, _ in MOVED])
def test_old_name_warns_and_is_the_new_object(old: str, name: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {new}"):
        obj = getattr(importlib.import_module(old), name)
    assert obj is getattr(importlib.import_module(new), name)


def test_unknown_old_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        importlib.import_module("backpack.learner").nope


def test_the_public_api_works_from_backpack_itself() -> None:
    import backpack

    assert backpack.Backpack is importlib.import_module("backpack.store").Backpack
    for name in ("build_prototypes", "learn_novel_task", "CrossTaskInteraction"):
        assert getattr(backpack, name) is not None

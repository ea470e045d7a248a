"""Hypothesis state machine: versions and tags of a real store against a plain-dict model."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backpack.errors import ConflictError, NotFoundError, StaleParentError
from backpack.store import Backpack

VERBS, NOUNS = ("a", "b", "c"), ("x", "y", "z", "w")
TASKS = st.sampled_from(["ar", "lta", "oscc"])
TAGS = st.sampled_from(["prod", "dev", "v-1"])


def _arrays(seed: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flat = rng.choice(len(VERBS) * len(NOUNS), size=count, replace=False)
    keys = np.stack([flat // len(NOUNS), flat % len(NOUNS)], 1)
    return rng.normal(size=(count, 3)).astype(np.float32) + 0.01, keys, rng.integers(1, 9, count)


class StoreMachine(RuleBasedStateMachine):
    """Model: version -> {task: (seed, count)}; tag -> version."""

    @initialize()
    def setup(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bp-sm-")
        self.bp = Backpack.create(f"{self.dir}/s", verbs=VERBS, nouns=NOUNS)
        self.versions: dict[int, dict[str, tuple[int, int]]] = {}
        self.tags: dict[str, int] = {}

    def teardown(self) -> None:
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(task=TASKS, seed=st.integers(0, 10**6), count=st.integers(1, 12), parent=st.integers(0, 30))
    def publish(self, task: str, seed: int, count: int, parent: int) -> None:
        base = None if not self.versions else sorted(self.versions)[parent % len(self.versions)]
        with self.bp.new_version(message=f"{task}-{seed}", parent=base) as v:
            v.add_task(task, *_arrays(seed, count))
        expected = max(self.versions, default=0) + 1
        assert v.version == expected
        self.versions[expected] = dict(self.versions.get(base, {}) if base else {}, **{task: (seed, count)})

    @precondition(lambda self: self.versions)
    @rule(task=TASKS, seed=st.integers(0, 10**6), other=TASKS, retry=st.booleans())
    def race(self, task: str, seed: int, other: str, retry: bool) -> None:
        """A writer started on the latest loses to another writer: it conflicts (nothing of it
        is published) or, through update(), rebuilds on the new latest; no update is lost."""
        slow = self.bp.new_version(message="slow")
        slow.add_task(task, *_arrays(seed, 3))
        rival = Backpack.open(f"{self.dir}/s", mode="a")
        latest = max(self.versions)
        with rival.new_version(message="rival") as v:
            v.add_task(other, *_arrays(seed + 1, 4))
        self.versions[v.version] = dict(self.versions[latest], **{other: (seed + 1, 4)})
        try:
            slow.commit()
        except StaleParentError:
            pass
        else:
            raise AssertionError("a stale writer published")
        if retry:
            number = self.bp.update(lambda w: w.add_task(task, *_arrays(seed, 3)), message="retried")
            self.versions[number] = dict(self.versions[number - 1], **{task: (seed, 3)})

    @invariant()
    def verifies_without_orphans(self) -> None:
        if hasattr(self, "bp") and self.versions:
            reader = Backpack.open(f"{self.dir}/s")
            assert reader.verify() == [] and reader.orphans() == []

    @precondition(lambda self: any(len(t) > 1 for t in self.versions.values()))
    @rule(pick=st.integers(0, 10**6), which=st.integers(0, 10))
    def remove(self, pick: int, which: int) -> None:
        candidates = [v for v, t in sorted(self.versions.items()) if len(t) > 1]
        base = candidates[pick % len(candidates)]
        name = sorted(self.versions[base])[which % len(self.versions[base])]
        with self.bp.new_version(parent=base) as v:
            v.remove_task(name)
        tasks = dict(self.versions[base])
        del tasks[name]
        self.versions[v.version] = tasks

    @precondition(lambda self: self.versions)
    @rule(name=TAGS, pick=st.integers(0, 10**6), force=st.booleans())
    def tag(self, name: str, pick: int, force: bool) -> None:
        target = sorted(self.versions)[pick % len(self.versions)]
        if name in self.tags and self.tags[name] != target and not force:
            try:
                self.bp.tag(name, target)
            except ConflictError:
                return
            raise AssertionError("moving a tag without force must fail")
        assert self.bp.tag(name, target, force=force) == target
        self.tags[name] = target

    @rule(name=TAGS)
    def delete_tag(self, name: str) -> None:
        if name in self.tags:
            self.bp.delete_tag(name)
            del self.tags[name]
        else:
            try:
                self.bp.delete_tag(name)
            except NotFoundError:
                return
            raise AssertionError("deleting a missing tag must fail")

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "bp"):
            return
        reader = Backpack.open(f"{self.dir}/s")
        assert reader.versions() == sorted(self.versions)
        assert reader.tags() == self.tags
        assert reader.version == max(self.versions, default=None)
        for name, version in self.tags.items():
            assert Backpack.open(f"{self.dir}/s", version=name).version == version

    @precondition(lambda self: self.versions)
    @rule(pick=st.integers(0, 10**6))
    def read_back(self, pick: int) -> None:
        version = sorted(self.versions)[pick % len(self.versions)]
        view = Backpack.open(f"{self.dir}/s", version=version)
        assert sorted(view.task_names) == sorted(self.versions[version])
        for task, (seed, count) in self.versions[version].items():
            protos, keys, support = _arrays(seed, count)
            t = view.task(task)
            np.testing.assert_array_equal(t.prototypes, protos)
            np.testing.assert_array_equal(t.keys, keys)
            np.testing.assert_array_equal(t.support, support)
        assert view.verify([version]) == []


StoreMachine.TestCase.settings = settings(
    # small by default (CI time); BACKPACK_HYPOTHESIS_EXAMPLES=200 for a long run
    max_examples=int(os.environ.get("BACKPACK_HYPOTHESIS_EXAMPLES", "12")),
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreMachine = StoreMachine.TestCase

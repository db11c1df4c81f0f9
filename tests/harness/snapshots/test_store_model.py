"""The snapshot store against a model, by hypothesis: any sequence of saves, checkouts, damage, removals and
prunes leaves every entry either whole (checks out byte for byte) or gone, never half."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from harness.core.errors import HarnessError
from harness.snapshots.store import SnapshotStore, SnapshotUnusable

KEYS = st.sampled_from(["a", "b", "c", "d"])
CONTENT = st.binary(min_size=0, max_size=2000)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="store-model-"))
        self.store = SnapshotStore(self.base / "store")
        self.model: dict[str, dict[str, bytes]] = {}
        self.damaged: set[str] = set()
        self.counter = 0

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def _scratch(self) -> Path:
        self.counter += 1
        path = self.base / f"scratch-{self.counter}"
        path.mkdir()
        return path

    @rule(key=KEYS, first=CONTENT, second=CONTENT)
    def save(self, key: str, first: bytes, second: bytes) -> None:
        source = self._scratch()
        (source / "one").write_bytes(first)
        (source / "two").write_bytes(second)
        self.store.save(key, "cloud", {"one": source / "one", "two": source / "two"}, {"key": key})
        self.model.setdefault(key, {"one": first, "two": second})  # the first writer of a key wins

    @rule(key=KEYS)
    def checkout(self, key: str) -> None:
        out = self._scratch()
        if key not in self.model:
            try:
                self.store.checkout(key, out)
            except HarnessError:
                return
            raise AssertionError(f"checked out {key}, which the model does not hold")
        if key in self.damaged:
            try:
                self.store.checkout(key, out)
            except SnapshotUnusable:
                del self.model[key]
                self.damaged.discard(key)
                return
            raise AssertionError(f"a damaged {key} checked out")
        snap = self.store.checkout(key, out)
        assert {name: (out / name).read_bytes() for name in snap.files} == self.model[key]

    @rule(key=KEYS, which=st.sampled_from(["one", "two"]), data=st.data())
    def damage(self, key: str, which: str, data: st.DataObject) -> None:
        if key not in self.model:
            return
        path = self.store.root / key / which
        original = path.read_bytes()
        changed = data.draw(CONTENT.filter(lambda value: value != original))
        path.write_bytes(changed)
        self.damaged.add(key)

    @rule(key=KEYS)
    def remove(self, key: str) -> None:
        assert self.store.remove(key) == (key in self.model)
        self.model.pop(key, None)
        self.damaged.discard(key)

    @rule(cap=st.integers(min_value=0, max_value=6000))
    def prune(self, cap: int) -> None:
        for snap in self.store.prune(cap):
            self.model.pop(snap.key, None)
            self.damaged.discard(snap.key)
        assert self.store.size() <= cap or not self.store.entries()

    @invariant()
    def entries_are_the_models(self) -> None:
        assert sorted(snap.key for snap in self.store.entries()) == sorted(self.model)
        assert not list(self.store.root.glob(".tmp-*")) if self.store.root.exists() else True


TestStoreModel = StoreMachine.TestCase
TestStoreModel.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)

"""The snapshot store on a real filesystem: whole entries or none, digests checked, LRU pruning, and many
processes saving, checking out and pruning one store at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.snapshots.store import MANIFEST, SnapshotStore, SnapshotUnusable, default_root


def _files(tmp_path: Path, **contents: bytes) -> dict[str, Path]:
    made = {}
    for name, data in contents.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made[name] = path
    return made


def test_a_saved_entry_checks_out_byte_for_byte_with_its_meta(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    saved = store.save("k1", "cloud", _files(tmp_path, a=b"alpha", b=os.urandom(300_000)), {"outputs": {"x": 1}})
    out = tmp_path / "out"
    snap = store.checkout("k1", out)
    assert snap == saved.__class__(**{**saved.__dict__, "last_used": snap.last_used})
    assert (out / "a").read_bytes() == b"alpha"
    assert (out / "b").read_bytes() == (tmp_path / "src" / "b").read_bytes()
    assert snap.meta == {"outputs": {"x": 1}} and snap.kind == "cloud" and snap.size == 300_005
    assert [entry.key for entry in store.entries("cloud")] == ["k1"] and store.entries("database") == []


def test_the_first_writer_of_a_key_wins(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    store.save("k", "cloud", _files(tmp_path, a=b"first"), {})
    second = store.save("k", "cloud", _files(tmp_path, a=b"second"), {})
    store.checkout("k", tmp_path / "out")
    assert (tmp_path / "out" / "a").read_bytes() == b"first" and second.files["a"]["size"] == 5


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "file gone", "manifest gone", "manifest garbage"])
def test_a_damaged_entry_is_one_clear_error_and_leaves_the_store(tmp_path: Path, damage: str) -> None:
    store = SnapshotStore(tmp_path / "store")
    snap = store.save("k", "cloud", _files(tmp_path, a=b"a" * 1000, b=b"b" * 10), {})
    target = snap.file("a")
    if damage == "flipped byte":
        data = bytearray(target.read_bytes())
        data[500] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:300])
    elif damage == "file gone":
        target.unlink()
    elif damage == "manifest gone":
        (snap.path / MANIFEST).unlink()
    else:
        (snap.path / MANIFEST).write_text("{not json")
    assert store.verify("k") is not None
    out = tmp_path / "out"
    with pytest.raises(SnapshotUnusable) as failure:
        store.checkout("k", out)
    assert "snapshot k is unusable" in str(failure.value) and "\n" not in str(failure.value)
    assert not (snap.path).exists() and store.entries() == []
    assert not (out / "a").exists()  # no file that failed its digest is left for anyone to use


def test_an_unknown_key_says_how_to_list_them(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="harness snapshot list"):
        SnapshotStore(tmp_path).checkout("nope", tmp_path / "out")


def test_keys_and_file_names_cannot_escape_the_store(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    for key in ("../evil", ".hidden", ""):
        with pytest.raises(HarnessError):
            store.save(key, "cloud", _files(tmp_path, a=b"x"), {})
    with pytest.raises(HarnessError):
        store.save("k", "cloud", {"../a": tmp_path / "src" / "a"}, {})
    assert store.entries() == [] and not (tmp_path / "evil").exists()


def test_pruning_removes_the_least_recently_used_first_and_spares_kept_keys(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    for index, key in enumerate(["old", "middle", "new"]):
        store.save(key, "cloud", _files(tmp_path, a=bytes(1000)), {})
        os.utime(store.get(key).path / MANIFEST, (time.time(), time.time()))
        store.checkout(key, tmp_path / f"out{index}")
        used = store.get(key).path / "used"
        os.utime(used, (1000 + index, 1000 + index))
    store.checkout("old", tmp_path / "again")  # used again: now the most recent
    removed = store.prune(max_bytes=2000, keep={"middle"})
    assert [snap.key for snap in removed] == ["new"]
    assert sorted(snap.key for snap in store.entries()) == ["middle", "old"]
    assert [snap.key for snap in store.prune(max_bytes=0)] == ["middle", "old"]  # least recently used first


def test_a_dead_writers_leftovers_are_pruned_but_a_young_one_is_not(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    dead, young = tmp_path / "store" / ".tmp-dead", tmp_path / "store" / ".tmp-young"
    for leftover in (dead, young):
        leftover.mkdir(parents=True)
        (leftover / "half").write_bytes(b"x")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    store.prune(max_bytes=10**9)
    assert not dead.exists() and young.exists()


def test_the_default_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "mailstack-harness" / "snapshots"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_root() == Path.home() / ".cache" / "mailstack-harness" / "snapshots"


def _worker(root: str, worker: int, rounds: int) -> None:
    store = SnapshotStore(Path(root))
    src = Path(root).parent / f"src-{worker}"
    src.mkdir(exist_ok=True)
    for index in range(rounds):
        key = f"k{index % 4}"
        payload = src / "data"
        payload.write_bytes(key.encode() * 20_000)  # every writer of a key writes the same content
        store.save(key, "cloud", {"data": payload}, {"key": key})
        out = Path(root).parent / f"out-{worker}"
        try:
            snap = store.checkout(key, out)
        except HarnessError as exc:
            assert "no snapshot" in str(exc)  # pruned by another process between save and checkout: fine
            continue
        assert (out / "data").read_bytes() == key.encode() * 20_000, "a checkout saw another key's bytes"
        assert snap.meta == {"key": key}
        if index % 5 == 4:
            store.prune(max_bytes=100_000)


def test_many_processes_on_one_store_never_see_a_torn_entry(tmp_path: Path) -> None:
    root = tmp_path / "store"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(str(root), worker, 20)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    store = SnapshotStore(root)
    for snap in store.entries():
        assert store.verify(snap.key) is None
        assert json.loads((snap.path / MANIFEST).read_text())["meta"] == {"key": snap.key}
    assert list(root.glob(".tmp-*")) == []

"""The emulator state's pickler on what moto holds that plain pickle cannot take, and the request gate,
without a moto server."""

from __future__ import annotations

import io
import pickle
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from harness.emulator import state
from harness.emulator.quiesce import RequestGate


def _round_trip(value: Any) -> Any:
    buffer = io.BytesIO()
    state._StatePickler(buffer, {}).dump(value)
    return pickle.loads(buffer.getvalue())


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rlock = threading.RLock()
        self.condition = threading.Condition()
        self.event = threading.Event()
        self.event.set()
        self.messages = ["kept"]


def test_locks_conditions_and_events_come_back_fresh() -> None:
    holder = _Holder()
    holder.lock.acquire()  # held at the save: a restored one must not be
    back = _round_trip(holder)
    assert back.messages == ["kept"]
    assert back.lock.acquire(blocking=False)
    assert back.rlock.acquire(blocking=False)
    with back.condition:
        back.condition.notify_all()
    assert back.event.is_set()


def test_private_keys_keep_their_material() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    back_rsa, back_ec, back_public = _round_trip([rsa_key, ec_key, rsa_key.public_key()])
    ciphertext = rsa_key.public_key().encrypt(b"secret", padding.PKCS1v15())
    assert back_rsa.decrypt(ciphertext, padding.PKCS1v15()) == b"secret"
    back_ec.public_key().verify(ec_key.sign(b"m", ec.ECDSA(SHA256())), b"m", ec.ECDSA(SHA256()))
    assert back_public.public_numbers() == rsa_key.public_key().public_numbers()


def test_a_known_lambda_is_recreated_and_an_unknown_one_fails_the_save_by_name() -> None:
    from moto.ssm.models import SimpleSystemManagerBackend

    tags = SimpleSystemManagerBackend("us-east-1", "123456789012")._resource_tags
    tags["Parameter"]["/a"]["k"] = "v"
    back = _round_trip(tags)
    assert back["Parameter"]["/a"] == {"k": "v"}
    assert back["Document"]["/b"] == {}  # still a defaultdict of defaultdicts
    with pytest.raises(pickle.PicklingError, match=r"test_emulator_state_pickler:.*<lambda>.*_REPLACEMENT_FACTORIES"):
        _round_trip(defaultdict(lambda: 0))


def test_a_defaultdict_subclass_with_its_own_init_keeps_items_and_attributes() -> None:
    from moto.ssm.models import ParameterDict

    parameters = ParameterDict("123456789012", "us-east-1")
    parameters["/a"].append("v1")
    back = _round_trip(parameters)
    assert (back["/a"], back.account_id, back.region_name, back["/new"]) == (["v1"], "123456789012", "us-east-1", [])


def test_s3_keeps_every_version_of_a_key() -> None:
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    store["k"] = "v1"
    store["k"] = "v2"
    back = _round_trip(store)
    assert (back.getlist("k"), back["k"]) == (["v1", "v2"], "v2")


def test_a_file_without_the_header_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "x.state"
    path.write_bytes(state.MAGIC + b"{not json\n" + b"payload")
    with pytest.raises(state.StateFormatError, match="its header is damaged"):
        state.read_header(path)
    with pytest.raises(state.StateFormatError, match="cannot read it"):
        state.read_header(tmp_path / "missing.state")


def test_the_gate_holds_new_requests_while_an_exclusive_block_runs_and_waits_for_those_in_progress() -> None:
    gate = RequestGate()
    events: list[str] = []
    in_request = threading.Event()
    release = threading.Event()

    def long_request() -> None:
        with gate.request():
            in_request.set()
            release.wait(10)
            events.append("request 1 done")

    def exclusive() -> None:
        with gate.exclusive():
            events.append("exclusive")
            time.sleep(0.2)

    def late_request() -> None:
        with gate.request():
            events.append("request 2")

    first = threading.Thread(target=long_request)
    first.start()
    in_request.wait(10)
    saver = threading.Thread(target=exclusive)
    saver.start()
    time.sleep(0.1)
    late = threading.Thread(target=late_request)
    late.start()
    time.sleep(0.1)
    assert events == []  # the save waits for request 1; request 2 waits for the save
    release.set()
    for thread in (first, saver, late):
        thread.join(10)
    assert events == ["request 1 done", "exclusive", "request 2"]


def test_a_request_waiting_in_suspended_lets_an_exclusive_block_run_and_waits_for_it_to_end() -> None:
    gate = RequestGate()
    events: list[str] = []
    waiting = threading.Event()
    wake = threading.Event()

    def polling_request() -> None:
        with gate.request():
            with gate.suspended():
                waiting.set()
                wake.wait(10)
            events.append("poll looks at the state")

    def exclusive() -> None:
        with gate.exclusive():
            events.append("exclusive starts")
            wake.set()
            time.sleep(0.2)
            events.append("exclusive ends")

    poll = threading.Thread(target=polling_request)
    poll.start()
    waiting.wait(10)
    saver = threading.Thread(target=exclusive)
    saver.start()
    for thread in (saver, poll):
        thread.join(10)
    assert events == ["exclusive starts", "exclusive ends", "poll looks at the state"]

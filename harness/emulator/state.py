"""Save and restore the whole state of the moto server process: every instantiated backend, every account
and region, with the same IDs, ARNs and attributes.

moto keeps each service's state in a module-level ``BackendDict`` ({account: {region: backend}}) and has no
persistence of its own (its recorder replays calls, which makes new random IDs). ``dump`` pickles the
contents of every ``BackendDict`` moto has instantiated (``BackendDict._instances``) in one pickle, so
objects shared across services (an ELBv2 target group's EC2 backend, an SNS token's subscription) stay
shared; ``load`` unpickles the whole file first and only then fills the live ``BackendDict`` objects in
place (other moto modules hold references to them), so a bad file never leaves a half-restored emulator.

What does not pickle as moto holds it, and what it becomes (``_StatePickler``):

* ``threading`` locks, conditions and events (the SQS queue's ``Condition``, ...): fresh ones; an event
  keeps whether it was set;
* ``cryptography`` private and public keys (KMS key material, RDS/ACM/IAM keys) and X.509 certificates:
  PEM/DER bytes and back, so a ciphertext made before the save decrypts after the restore;
* functions made at run time that moto stores: the SSM backend's ``defaultdict(lambda: defaultdict(dict))``
  (tags) is re-created from a module-level factory (``_REPLACEMENT_FACTORIES``); any other lambda or
  local function fails the save with its name (better no file than one that restores a broken backend);
* containers whose pickling goes through a method moto overrides: S3's ``_VersionedKeyStore`` (its
  ``__setitem__`` appends a version, so every version list is stored and set back as is) and SSM's
  ``ParameterDict`` (a ``defaultdict`` whose ``__init__`` takes other arguments: rebuilt without calling it);
* ``BackendDict`` objects met inside the graph are stored as references to the live ones.

Strings that name the saving server's address (``host:port``: an SQS queue URL that Terraform put in a task
definition's environment) are saved with marks in its place and loaded with the restoring server's address.

SQS messages are saved with their timestamps: one in flight at the save becomes visible again when its
visibility timeout ends, its receipt handle still valid. Not saved (runtime, not AWS state): the threads
of the fidelity patches (the SNS delivery engine's queue of deliveries still to attempt, a running SQS
message move task): each patch's ``restore_state`` hook (``FidelityPatch``) restarts what it was doing,
and moves URLs that name the saving server's port to this server's.

The file: ``MAGIC``, a JSON header line (format, harness and moto versions, Python version, the applied
fidelity patches and a digest of their sources, the saving server's endpoint, the payload's SHA-256),
then the pickle. ``load`` checks the header against this process and the digest against the payload and
raises ``StateFormatError`` naming what differs before anything changes.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import pickle
import sys
import tempfile
import threading
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError

FORMAT = 1
MAGIC = b"mailstack-moto-state\n"
PROTOCOL = 5


class StateFormatError(HarnessError):
    """A state file this emulator cannot restore: truncated, corrupt, or from another harness/moto/patch set."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"cannot restore the emulator state {path}: {problem}",
            "boot without it (a cold boot) and save a new one; the emulator was not started half-restored",
        )


@dataclass(frozen=True)
class StateInfo:
    """What a dump or load did: the services, the file's size, the header."""

    path: Path
    services: list[str]
    size: int
    header: dict[str, Any]


# ------------------------------------------------------------------ the format header


def _patch_digest(names: list[str]) -> str:
    """SHA-256 over the source of the applied patches' modules: a changed patch may store other shapes."""
    from harness.aws import fidelity

    digest = hashlib.sha256()
    by_name = {patch.name: patch for patch in fidelity.discover().values()}
    for name in names:
        module = sys.modules.get(by_name[name].apply.__module__) if name in by_name else None
        source = Path(module.__file__).read_bytes() if module is not None and module.__file__ else b""
        digest.update(name.encode() + b"\0" + hashlib.sha256(source).digest())
    return digest.hexdigest()


def expected_header() -> dict[str, Any]:
    """The header fields a file must carry to be restored into this process."""
    import moto

    import harness
    from harness.aws import fidelity

    applied = fidelity.applied()
    return {
        "format": FORMAT,
        "harness": harness.__version__,
        "moto": moto.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "patches": applied,
        "patches_digest": _patch_digest(applied),
    }


def _compare(path: Path, found: dict[str, Any], wanted: dict[str, Any]) -> None:
    differences = []
    for key, value in wanted.items():
        if found.get(key) != value:
            if key == "patches":
                saved, here = set(found.get(key) or []), set(value)
                detail = (f"only in the file: {', '.join(sorted(saved - here)) or '-'}; "
                          f"only in this server: {', '.join(sorted(here - saved)) or '-'}")
                differences.append(f"fidelity patches differ ({detail})")
            elif key == "patches_digest":
                differences.append("the fidelity patches' source changed since the save")
            else:
                differences.append(f"{key} {found.get(key)!r} in the file, {value!r} in this server")
    if differences:
        raise StateFormatError(path, "; ".join(differences))


# ------------------------------------------------------------------ the pickler


def _nested_dict() -> Any:
    return defaultdict(dict)


# Functions moto creates per backend and stores, by qualified name: a module-level equivalent.
_REPLACEMENT_FACTORIES: dict[str, Callable[[], Any]] = {
    "moto.ssm.models:SimpleSystemManagerBackend.__init__.<locals>.<lambda>": _nested_dict,
}


def _fresh_event(was_set: bool) -> threading.Event:
    event = threading.Event()
    if was_set:
        event.set()
    return event


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


def _certificate(der: bytes) -> Any:
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def _crypto_reducer(obj: Any) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import types as key_types

    if isinstance(obj, key_types.PrivateKeyTypes):  # type: ignore[misc,arg-type]
        pem = obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return _private_key, (pem,)
    if isinstance(obj, key_types.PublicKeyTypes):  # type: ignore[misc,arg-type]
        pem = obj.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return _public_key, (pem,)
    if isinstance(obj, x509.Certificate):
        return _certificate, (obj.public_bytes(serialization.Encoding.DER),)
    return None


# the lock types are not importable by name (_thread.lock): rebuild them with their factories
_LOCK_FACTORIES: dict[type, Callable[[], Any]] = {type(threading.Lock()): threading.Lock,
                                                  type(threading.RLock()): threading.RLock}


class _StatePickler(pickle.Pickler):
    def __init__(self, file: io.BufferedIOBase, backend_refs: dict[int, tuple[str, str]],
                 endpoint: str | None = None) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self._backend_refs = backend_refs
        self._addresses = _addresses(endpoint)

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is str:
            if any(address in obj for address, _ in self._addresses):
                for address, template in self._addresses:
                    obj = obj.replace(address, template)
                return (_ENDPOINT_STRING, obj)
            return None
        return self._backend_refs.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        lock_factory = _LOCK_FACTORIES.get(type(obj))
        if lock_factory is not None:
            return lock_factory, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, threading.Event):
            return _fresh_event, (obj.is_set(),)
        if isinstance(obj, threading.Semaphore):
            return type(obj), (obj._value,)
        if type(obj).__name__ == "_VersionedKeyStore" and type(obj).__module__ == "moto.s3.utils":
            # its __setitem__ appends a version, and items() yields only the latest: store every version
            return _versioned_key_store, (type(obj), [(key, list(versions)) for key, versions in obj.lists()])
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:
            # a subclass with its own __init__ signature (SSM's ParameterDict): defaultdict's reduce calls it
            return _defaultdict_subclass, (type(obj), obj.default_factory), vars(obj), None, iter(obj.items())
        if isinstance(obj, types.FunctionType) and "<" in obj.__qualname__:
            key = f"{obj.__module__}:{obj.__qualname__}"
            factory = _REPLACEMENT_FACTORIES.get(key)
            if factory is None:
                raise pickle.PicklingError(
                    f"moto holds a function made at run time ({key}) that the state cannot save; "
                    "add a module-level replacement to harness.emulator.state._REPLACEMENT_FACTORIES"
                )
            return _resolve_factory, (key,)
        if type(obj).__module__.startswith("cryptography"):
            reduced = _crypto_reducer(obj)
            if reduced is not None:
                return reduced
        return NotImplemented


def _defaultdict_subclass(cls: type[defaultdict[Any, Any]], factory: Callable[[], Any] | None) -> Any:
    made = cls.__new__(cls)
    defaultdict.__init__(made, factory)
    return made


def _versioned_key_store(cls: type[dict[str, Any]], lists: list[tuple[str, list[Any]]]) -> Any:
    store = cls()
    for key, versions in lists:
        dict.__setitem__(store, key, versions)
    return store


def _resolve_factory(key: str) -> Callable[[], Any]:
    return _REPLACEMENT_FACTORIES[key]


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, endpoint: str | None = None) -> None:
        super().__init__(file)
        host, port = _host_and_port(endpoint) if endpoint else ("", "")
        self._marks = {_HOST_MARK: host, _PORT_MARK: port}

    def persistent_load(self, pid: Any) -> Any:
        first, second = pid
        if first == _ENDPOINT_STRING:
            for mark, value in self._marks.items():
                second = second.replace(mark, value)
            return second
        return getattr(importlib.import_module(first), second)


# A string that names the saving server's address (an SQS queue URL in a task definition's environment, an
# SNS subscription's endpoint) is saved with the address as marks, and loaded with the restoring server's.
_ENDPOINT_STRING = "\0endpoint"
_HOST_MARK = "\0host\0"
_PORT_MARK = "\0port\0"


def _host_and_port(endpoint: str) -> tuple[str, str]:
    netloc = endpoint.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = netloc.rpartition(":")
    return host, port


def _addresses(endpoint: str | None) -> list[tuple[str, str]]:
    """(address, template) pairs: the server's host:port, and localhost:port when it is a loopback one."""
    if not endpoint:
        return []
    host, port = _host_and_port(endpoint)
    found = [(f"{host}:{port}", f"{_HOST_MARK}:{_PORT_MARK}")]
    if host in ("127.0.0.1", "localhost"):
        other = "localhost" if host == "127.0.0.1" else "127.0.0.1"
        found.append((f"{other}:{port}", f"{other}:{_PORT_MARK}"))
    return found


# ------------------------------------------------------------------ the backends


def _instantiated() -> Iterator[tuple[tuple[str, str], Any]]:
    """((module, attribute), BackendDict) for every BackendDict moto has instantiated, found where it lives."""
    from moto.core.base_backend import BackendDict

    for backend_dict in list(BackendDict._instances):
        yield _location(backend_dict), backend_dict


def _location(backend_dict: Any) -> tuple[str, str]:
    home = backend_dict.backend.__module__
    candidates = [home] + [name for name in sys.modules if name.startswith("moto.") and name != home]
    for module_name in candidates:
        module = sys.modules.get(module_name)
        for attribute, value in vars(module or {}).items():
            if value is backend_dict:
                return module_name, attribute
    raise HarnessError(f"moto's BackendDict for {backend_dict.service_name} is not a module attribute",
                       "the emulator state cannot reference it; report this moto version")


def dump(path: Path, endpoint: str | None = None) -> StateInfo:
    """Write every instantiated moto backend, and the applied patches' own state, to `path`, atomically.

    `endpoint` is this server's ``http://host:port`` (a restore elsewhere rewrites what baked it in).
    The caller keeps requests out while this runs (``moto_server`` does).
    """
    from harness.aws import fidelity

    extra = {patch.name: patch.save_state() for patch in fidelity.applied_patches() if patch.save_state}
    backends = dict(_instantiated())
    refs = {id(backend_dict): location for location, backend_dict in backends.items()}
    payload = {
        location: (dict(backend_dict), {k: v for k, v in vars(backend_dict).items() if k != "_id"})
        for location, backend_dict in backends.items()
    }
    buffer = io.BytesIO()
    _StatePickler(buffer, refs, endpoint).dump({"backends": payload, "patches": extra})
    body = buffer.getvalue()
    header = {
        **expected_header(),
        "endpoint": endpoint,
        "services": sorted(backend_dict.service_name for backend_dict in backends.values()),
        "payload_sha256": hashlib.sha256(body).hexdigest(),
        "payload_size": len(body),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(MAGIC)
            file.write(json.dumps(header, sort_keys=True).encode() + b"\n")
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return StateInfo(path, header["services"], path.stat().st_size, header)


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """The header and the pickled payload of `path`; StateFormatError when it is not a whole state file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateFormatError(path, f"cannot read it ({exc.strerror or exc})") from exc
    if not data.startswith(MAGIC):
        raise StateFormatError(path, "not an emulator state file (no header)")
    line_end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):line_end]) if line_end > 0 else None
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise StateFormatError(path, "its header is damaged")
    body = data[line_end + 1:]
    if len(body) != header.get("payload_size") or hashlib.sha256(body).hexdigest() != header.get("payload_sha256"):
        size = header.get("payload_size")
        raise StateFormatError(path, f"the payload is truncated or corrupt ({len(body)} bytes, the header says {size})")
    return header, body


def load(path: Path, endpoint: str) -> StateInfo:
    """Replace every moto backend's state with the one saved in `path`, then let the applied patches
    restore theirs (`endpoint`: this server's ``http://host:port``).

    All checks and the whole unpickling happen before any backend changes.
    """
    from harness.aws import fidelity

    path = Path(path)
    header, body = read_header(path)
    _compare(path, header, expected_header())
    try:
        saved = _StateUnpickler(io.BytesIO(body), endpoint).load()
    except Exception as exc:
        raise StateFormatError(path, f"its payload does not load into this moto ({type(exc).__name__}: {exc})") from exc
    _install(saved["backends"])
    for patch in fidelity.applied_patches():
        if patch.restore_state is not None:
            patch.restore_state(saved["patches"].get(patch.name), header.get("endpoint"), endpoint)
    return StateInfo(path, list(header.get("services", [])), path.stat().st_size, header)


def _install(backends: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]) -> None:
    from moto.core.base_backend import BackendDict, backend_lock

    with backend_lock:
        for (module, attribute), (accounts, attributes) in backends.items():
            live = getattr(importlib.import_module(module), attribute)
            live.clear()
            live.update(accounts)
            vars(live).update(attributes)
            if live not in BackendDict._instances:
                BackendDict._instances.append(live)


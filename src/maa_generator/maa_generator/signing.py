"""Operator signatures for policy weights (Ed25519; ROS-free).

A generator holding an operator's private key signs every ``maa_msgs/PolicyWeights`` it publishes; a deploy node
configured with the operator's public keys (its *trusted keys*) runs only weights that carry a valid signature from
one of them, and refuses replays: each key's ``sequence`` must be strictly above the last one accepted from it.

What is signed (:func:`signed_bytes`): ``layout_fingerprint``, the sha256 of ``data`` (as little-endian float32,
computed from the data itself, never taken from the message's ``checksum`` field), ``generator_id``, ``domain``,
``task`` and ``sequence``. The layout fields (``layer_sizes``, ``activation``, ``output``, ...) are bound through
the fingerprint, which :func:`maa_core.weights_codec.decode_message` checks against them; the header, seed,
candidate index and score are not signed.

Keys are files: the private key is PEM (PKCS8, unencrypted, mode 0600), the public key PEM (SubjectPublicKeyInfo).
A key is named by its *key id*, the first 16 hex digits of the sha256 of its raw 32-byte public key. Every error
raised here is a :class:`SignatureError` (a ``ValueError``) whose message says what is wrong and, for files, which.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: domain-separation prefix of :func:`signed_bytes` (a signature over anything else never verifies as weights)
SIGNED_PREFIX = b"maa-policy-weights-v1\x00"
SIGNATURE_BYTES = 64
UINT64_MAX = 2**64 - 1
STATE_FORMAT = "maa.signing.state/1"


class SignatureError(ValueError):
    """Weights are unsigned, signed by an unknown key, tampered with or replayed; or a key/state file is unusable."""


class ReplayError(SignatureError):
    """A validly signed message whose ``sequence`` is not above the last one accepted from its key (a replay, or a
    re-delivery of weights already accepted, e.g. a latched topic after a deploy restart with a state file)."""

    def __init__(self, key: str, sequence: int, last: int):
        super().__init__(f"replayed weights: sequence {sequence} is not above the last accepted sequence {last} "
                         f"from key {key}")
        self.key_id, self.sequence, self.last = key, sequence, last


# --------------------------------------------------------------------------- keys
def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the sha256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Read an unencrypted PEM (PKCS8) Ed25519 private key (as written by :func:`generate_keypair`)."""
    path = Path(path).expanduser()
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SignatureError(f"{path}: the private key is encrypted; maa needs an unencrypted key "
                             "(create one with maa_keygen)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SignatureError(f"{path}: not a PEM private key (truncated or corrupt? create one with maa_keygen)") \
            from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: key type {type(key).__name__}, expected an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """Read a PEM (SubjectPublicKeyInfo) Ed25519 public key (the ``.pub`` file of :func:`generate_keypair`)."""
    path = Path(path).expanduser()
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        raise SignatureError(f"{path}: this is a private key; give the deploy side the public key (.pub) only")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SignatureError(f"{path}: not a PEM public key (truncated or corrupt? maa_keygen writes <name>.pub)") \
            from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: key type {type(key).__name__}, expected an Ed25519 public key")
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` and write ``data``; never overwrites (O_EXCL)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits; never adds any beyond ``mode``
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_keypair(private_path: str | os.PathLike, public_path: str | os.PathLike) -> str:
    """Create a new Ed25519 key pair and return its key id.

    Writes the private key (PEM PKCS8, unencrypted) with mode 0600 and the public key (PEM SubjectPublicKeyInfo)
    with mode 0644, creating missing parent folders with mode 0700. Refuses to overwrite either file.
    """
    priv, pub = Path(private_path).expanduser(), Path(public_path).expanduser()
    if priv.resolve() == pub.resolve():
        raise SignatureError(f"private and public key paths are the same file: {priv}")
    for p in (priv, pub):
        if p.exists() or p.is_symlink():
            raise SignatureError(f"{p} already exists; refusing to overwrite a key (move it away or pick another "
                                 "name)")
    for p in {priv.parent, pub.parent}:
        p.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem_priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    pem_pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        _write_new(priv, pem_priv, 0o600)
    except FileExistsError:
        raise SignatureError(f"{priv} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise SignatureError(f"{priv}: cannot write private key: {exc.strerror or exc}") from None
    try:
        _write_new(pub, pem_pub, 0o644)
    except OSError as exc:
        priv.unlink()  # no half-written pair
        why = "already exists; refusing to overwrite a key" if isinstance(exc, FileExistsError) else \
            f"cannot write public key: {exc.strerror or exc}"
        raise SignatureError(f"{pub}: {why}") from None
    return key_id(key.public_key())


# --------------------------------------------------------------------------- what is signed
def _str_field(name: str, value: Any) -> bytes:
    raw = str(value).encode("utf-8")
    if len(raw) > 0xFFFFFFFF:
        raise SignatureError(f"{name} is too long to sign ({len(raw)} bytes)")
    return struct.pack(">I", len(raw)) + raw


def data_digest(data: Any) -> bytes:
    """sha256 (32 raw bytes) of ``data`` ``[P]`` as little-endian float32."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(data, dtype=np.float32).reshape(-1), dtype="<f4")
                          .tobytes()).digest()


def signed_bytes(layout_fingerprint: str, data: Any, generator_id: str, domain: str, task: str,
                 sequence: int) -> bytes:
    """The canonical byte string an operator signature covers.

    ``SIGNED_PREFIX``, then ``layout_fingerprint`` (uint32 big-endian length + UTF-8), the 32-byte sha256 of
    ``data`` ``[P]`` as little-endian float32, ``generator_id``, ``domain``, ``task`` (each length-prefixed like the
    fingerprint) and ``sequence`` as 8-byte big-endian unsigned.
    """
    seq = int(sequence)
    if not 0 <= seq <= UINT64_MAX:
        raise SignatureError(f"sequence must be a uint64, got {seq}")
    return b"".join((SIGNED_PREFIX, _str_field("layout_fingerprint", layout_fingerprint), data_digest(data),
                     _str_field("generator_id", generator_id), _str_field("domain", domain),
                     _str_field("task", task), struct.pack(">Q", seq)))


def _message_bytes(msg: Any, sequence: int) -> bytes:
    return signed_bytes(msg.layout_fingerprint, msg.data, msg.generator_id, msg.domain, msg.task, sequence)


# --------------------------------------------------------------------------- state files
def _read_state(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{path}: cannot read the signature state file ({exc}); fix or remove it (removing it "
                             "lets weights signed before it was lost be replayed)") from None
    seqs = state.get("last_sequence") if isinstance(state, dict) else None
    if not (isinstance(state, dict) and state.get("format") == STATE_FORMAT and isinstance(seqs, dict)
            and all(isinstance(k, str) and isinstance(v, int) and 0 <= v <= UINT64_MAX for k, v in seqs.items())):
        raise SignatureError(f"{path}: not a {STATE_FORMAT} file with a last_sequence mapping of key ids to uint64")
    return dict(seqs)


def _write_state(path: Path, last: Mapping[str, int]) -> None:
    """Write atomically: a temp file in the same folder, fsync, rename."""
    text = json.dumps({"format": STATE_FORMAT, "last_sequence": dict(sorted(last.items()))}, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SignatureError(f"{path}: cannot write the signature state file: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SignatureError(f"{path}: cannot write the signature state file: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- signing
_ISSUED: dict[str, int] = {}      # key id -> last sequence issued in this process (by any Signer)
_ISSUED_LOCK = threading.Lock()


class Signer:
    """Signs PolicyWeights-like messages with one operator private key.

    Args:
        private_key: the Ed25519 private key.
        state_path: optional JSON file remembering the last issued sequence, so sequences stay increasing even if
            the wall clock steps back between runs. Without it, sequences are ``max(last + 1, time.time_ns())``:
            increasing within a process (across all its ``Signer`` objects) and across restarts while the clock
            does not go backwards.
    """

    def __init__(self, private_key: Ed25519PrivateKey, state_path: str | os.PathLike | None = None):
        if not isinstance(private_key, Ed25519PrivateKey):
            raise SignatureError(f"expected an Ed25519 private key, got {type(private_key).__name__}")
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)
        self.state_path = Path(state_path).expanduser() if state_path is not None else None
        self._lock = threading.Lock()
        self._last = _read_state(self.state_path).get(self.key_id, 0) if self.state_path else 0

    @classmethod
    def from_file(cls, private_path: str | os.PathLike, state_path: str | os.PathLike | None = None) -> Signer:
        """Load the PEM private key at ``private_path`` (:func:`load_private_key`)."""
        return cls(load_private_key(private_path), state_path)

    def next_sequence(self) -> int:
        """A sequence number strictly above every one issued before for this key (see the class doc)."""
        with self._lock, _ISSUED_LOCK:
            seq = max(self._last + 1, _ISSUED.get(self.key_id, 0) + 1, time.time_ns())
            if seq > UINT64_MAX:
                raise SignatureError(f"sequence space of key {self.key_id} is exhausted")
            if self.state_path:
                last = _read_state(self.state_path) if self.state_path.exists() else {}
                seq = max(seq, last.get(self.key_id, 0) + 1)
                last[self.key_id] = seq
                _write_state(self.state_path, last)
            self._last = _ISSUED[self.key_id] = seq
            return seq

    def sign(self, layout_fingerprint: str, data: Any, generator_id: str, domain: str, task: str,
             sequence: int) -> bytes:
        """The 64-byte signature of :func:`signed_bytes` of the arguments."""
        return self._key.sign(signed_bytes(layout_fingerprint, data, generator_id, domain, task, sequence))

    def sign_message(self, msg: Any) -> Any:
        """Sign a PolicyWeights-like ``msg`` in place (call it after every other field is set) and return it.

        Sets ``msg.sequence`` (:meth:`next_sequence`), ``msg.key_id`` and ``msg.signature`` (64 bytes; a ROS
        ``uint8[]`` field accepts ``bytes`` and stores an ``array('B')``).
        """
        if not msg.layout_fingerprint:
            raise SignatureError("refusing to sign weights without a layout_fingerprint (it binds the layout)")
        seq = self.next_sequence()
        signature = self._key.sign(_message_bytes(msg, seq))
        msg.sequence, msg.key_id, msg.signature = seq, self.key_id, signature
        return msg


# --------------------------------------------------------------------------- verifying
class Verifier:
    """Checks operator signatures of PolicyWeights-like messages against a set of trusted public keys.

    Thread-safe. Remembers the last accepted sequence per key (updated only after a successful verification) and
    refuses a message whose sequence is not above it. With ``state_path`` those sequences are kept in a small JSON
    file written atomically on every acceptance, so a restarted deploy node cannot be replayed into; an unreadable
    state file, or one that cannot be written, is an error (fail closed).

    Args:
        keys: trusted keys by key id (:meth:`from_files` builds it from ``.pub`` files).
        state_path: optional JSON file of the last accepted sequences.
    """

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], state_path: str | os.PathLike | None = None):
        if not keys:
            raise SignatureError("no trusted keys: give at least one public key file")
        for kid, key in keys.items():
            if not isinstance(key, Ed25519PublicKey) or key_id(key) != kid:
                raise SignatureError(f"trusted key {kid!r} is not the Ed25519 public key with that key id")
        self._keys = dict(keys)
        self.state_path = Path(state_path).expanduser() if state_path is not None else None
        self._last: dict[str, int] = _read_state(self.state_path) if self.state_path else {}
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, public_paths: Iterable[str | os.PathLike] | str | os.PathLike,
                   state_path: str | os.PathLike | None = None) -> Verifier:
        """Trust the PEM public keys at ``public_paths`` (errors name the file that is missing or invalid)."""
        if isinstance(public_paths, (str, os.PathLike)):
            public_paths = [public_paths]
        keys = {}
        for path in public_paths:
            key = load_public_key(path)
            keys[key_id(key)] = key
        return cls(keys, state_path)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def last_sequence(self, key: str) -> int | None:
        """The last sequence accepted from key id ``key`` (``None`` if none yet)."""
        with self._lock:
            return self._last.get(key)

    def verify_message(self, msg: Any) -> str:
        """Check ``msg`` and record its sequence; return the key id that signed it.

        Raises:
            SignatureError: unsigned (empty ``signature``), unknown ``key_id``, a signature that is not 64 bytes or
                does not match the signed fields; :class:`ReplayError` (a ``SignatureError``) for a ``sequence`` not
                above the last one accepted from the key.
        """
        size = len(msg.signature)  # measured before anything is copied
        kid = str(msg.key_id)
        if size == 0:
            raise SignatureError("unsigned weights: this deploy node requires a signature from one of the trusted keys "
                                 f"{self.key_ids} (set the generator's signing_key parameter)")
        key = self._keys.get(kid)
        if key is None:
            shown = kid if len(kid) <= 64 else kid[:64] + "..."
            raise SignatureError(f"weights signed by unknown key {shown!r}; trusted keys are {self.key_ids}")
        if size != SIGNATURE_BYTES:
            raise SignatureError(f"signature has {size} bytes, expected {SIGNATURE_BYTES} (Ed25519)")
        signature = bytes(msg.signature)
        seq = int(msg.sequence)
        if not msg.layout_fingerprint:
            raise SignatureError("signed weights carry no layout_fingerprint; refusing them")
        try:
            key.verify(signature, _message_bytes(msg, seq))
        except InvalidSignature:
            raise SignatureError(f"bad signature from key {kid}: the weights, layout fingerprint, generator_id, "
                                 "domain, task or sequence were changed after signing") from None
        with self._lock:
            last = self._last.get(kid)
            if last is not None and seq <= last:
                raise ReplayError(kid, seq, last)
            if self.state_path:
                _write_state(self.state_path, {**self._last, kid: seq})
            self._last[kid] = seq
        return kid

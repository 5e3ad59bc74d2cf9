"""Operator signatures of policy weights: keys, signing, verification, replay protection, keygen CLI."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey

from maa_core.layout import PolicyLayout
from maa_core.weights_codec import PolicyMeta, checksum, decode_message, fill_message
from maa_generator import signing
from maa_generator.keygen_cli import main as keygen_main
from maa_generator.signing import SignatureError, Signer, Verifier, generate_keypair, key_id

LAYOUT = PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,), name="tiny")


def _msg(seed: int = 0):
    """A PolicyWeights-like object, filled like the generator fills a real message (unsigned)."""
    flat = np.random.default_rng(seed).normal(size=LAYOUT.num_params).astype(np.float32)
    msg = SimpleNamespace(sequence=0, key_id="", signature=b"")
    return fill_message(msg, LAYOUT, flat, PolicyMeta(generator_id="tiny@abc123", domain="go2", task="walk", seed=3))


@pytest.fixture()
def keys(tmp_path):
    priv, pub = tmp_path / "op.key", tmp_path / "op.pub"
    kid = generate_keypair(priv, pub)
    return SimpleNamespace(priv=priv, pub=pub, kid=kid)


def test_round_trip(keys):
    signer = Signer.from_file(keys.priv)
    assert signer.key_id == keys.kid == key_id(signing.load_public_key(keys.pub))
    assert len(keys.kid) == 16 and int(keys.kid, 16) >= 0
    msg = signer.sign_message(_msg())
    assert msg.key_id == keys.kid and len(msg.signature) == 64 and msg.sequence > 0
    verifier = Verifier.from_files([keys.pub])
    assert verifier.key_ids == [keys.kid]
    assert verifier.verify_message(msg) == keys.kid
    assert verifier.last_sequence(keys.kid) == msg.sequence
    decode_message(msg, expected=LAYOUT)  # still valid weights: signing touched only the signature fields


def _tamper_data(msg):
    data = np.array(msg.data, dtype=np.float32)
    data[5] += 1e-3
    msg.data, msg.checksum = data, checksum(data)  # a consistent checksum does not help: data itself is hashed


TAMPER = {
    "layout_fingerprint": lambda m: setattr(m, "layout_fingerprint", PolicyLayout(4, 2, (9,)).fingerprint()),
    "data": _tamper_data,
    "generator_id": lambda m: setattr(m, "generator_id", "other@000"),
    "domain": lambda m: setattr(m, "domain", "metaworld"),
    "task": lambda m: setattr(m, "task", "run"),
    "sequence": lambda m: setattr(m, "sequence", m.sequence + 1),
    "field boundary": lambda m: (setattr(m, "generator_id", "tiny@abc123g"), setattr(m, "domain", "o2")),
}


@pytest.mark.parametrize("field", list(TAMPER))
def test_each_tampered_field_is_refused(keys, field):
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    TAMPER[field](msg)
    verifier = Verifier.from_files([keys.pub])
    with pytest.raises(SignatureError, match=f"bad signature from key {keys.kid}"):
        verifier.verify_message(msg)
    assert verifier.last_sequence(keys.kid) is None  # a refused message records nothing


def test_unsigned_fields_do_not_matter_but_checksum_is_not_trusted(keys):
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    msg.score, msg.checksum = 0.5, "0" * 64  # not covered (the deploy side's decode_message checks the checksum)
    assert Verifier.from_files([keys.pub]).verify_message(msg) == keys.kid


def test_signed_bytes_is_unambiguous():
    data = np.arange(6, dtype=np.float32)
    base = signing.signed_bytes("ab", data, "c", "d", "e", 7)
    assert base.startswith(b"maa-policy-weights-v1")
    assert base != signing.signed_bytes("a", data, "bc", "d", "e", 7)
    assert base != signing.signed_bytes("ab", data, "c", "de", "", 7)
    assert base != signing.signed_bytes("ab", data, "c", "d", "e", 8)
    assert base == signing.signed_bytes("ab", data.astype(np.float64), "c", "d", "e", 7)  # float32 values count
    assert base.endswith((7).to_bytes(8, "big"))
    with pytest.raises(SignatureError, match="uint64"):
        signing.signed_bytes("ab", data, "c", "d", "e", -1)


def test_replay_and_equal_sequence_are_refused(keys):
    signer = Signer.from_file(keys.priv)
    old, new = signer.sign_message(_msg(0)), signer.sign_message(_msg(1))
    assert new.sequence > old.sequence
    verifier = Verifier.from_files([keys.pub])
    assert verifier.verify_message(new) == keys.kid
    with pytest.raises(SignatureError, match=f"sequence {new.sequence} is not above the last accepted sequence "
                                             f"{new.sequence} from key {keys.kid}"):
        verifier.verify_message(new)
    with pytest.raises(signing.ReplayError, match=f"sequence {old.sequence} is not above") as replay:
        verifier.verify_message(old)
    assert (replay.value.key_id, replay.value.sequence, replay.value.last) == (keys.kid, old.sequence, new.sequence)
    newer = signer.sign_message(_msg(0))  # the same weights again, freshly signed, are fine
    assert verifier.verify_message(newer) == keys.kid


def test_concurrent_verification_accepts_a_message_once(keys):
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    verifier = Verifier.from_files([keys.pub])
    results, start = [], threading.Barrier(8)

    def verify():
        start.wait()
        try:
            results.append(verifier.verify_message(msg))
        except SignatureError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(keys.kid) == 1 and len(results) == 8


def test_unknown_key_unsigned_and_wrong_length(keys, tmp_path):
    other = generate_keypair(tmp_path / "b.key", tmp_path / "b.pub")
    verifier = Verifier.from_files([keys.pub])
    with pytest.raises(SignatureError, match=f"unknown key '{other}'; trusted keys are \\['{keys.kid}'\\]"):
        verifier.verify_message(Signer.from_file(tmp_path / "b.key").sign_message(_msg()))
    with pytest.raises(SignatureError, match=f"unsigned weights: .* trusted keys \\['{keys.kid}'\\]"):
        verifier.verify_message(_msg())
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    msg.signature = bytes(msg.signature)[:63]
    with pytest.raises(SignatureError, match="63 bytes, expected 64"):
        verifier.verify_message(msg)
    both = Verifier.from_files([keys.pub, tmp_path / "b.pub"])
    assert both.key_ids == sorted([keys.kid, other])
    assert both.verify_message(Signer.from_file(tmp_path / "b.key").sign_message(_msg())) == other


def test_list_of_ints_signature_is_accepted(keys):
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    msg.signature = list(msg.signature)  # what a uint8[] field may hold after a round trip through other tools
    assert Verifier.from_files(keys.pub).verify_message(msg) == keys.kid


def test_keygen_refuses_to_overwrite_and_private_key_is_0600(tmp_path):
    old_umask = os.umask(0)  # even a permissive umask must not widen the private key's mode
    try:
        kid = generate_keypair(tmp_path / "k" / "op.key", tmp_path / "k" / "op.pub")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "k" / "op.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700
    before = (tmp_path / "k" / "op.key").read_bytes()
    with pytest.raises(SignatureError, match="op.key already exists; refusing to overwrite"):
        generate_keypair(tmp_path / "k" / "op.key", tmp_path / "k" / "new.pub")
    assert (tmp_path / "k" / "op.key").read_bytes() == before and not (tmp_path / "k" / "new.pub").exists()
    with pytest.raises(SignatureError, match="op.pub already exists"):
        generate_keypair(tmp_path / "k" / "new.key", tmp_path / "k" / "op.pub")
    assert not (tmp_path / "k" / "new.key").exists()  # nothing half-written
    assert Signer.from_file(tmp_path / "k" / "op.key").key_id == kid
    text = (tmp_path / "k" / "op.key").read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    assert (tmp_path / "k" / "op.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_bad_key_files_name_the_file(keys, tmp_path):
    truncated = tmp_path / "trunc.key"
    truncated.write_bytes(keys.priv.read_bytes()[:40])
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(os.urandom(100))
    half_pub = tmp_path / "half.pub"
    half_pub.write_bytes(keys.pub.read_bytes()[:50])
    ed448 = tmp_path / "ed448.pub"
    ed448.write_bytes(Ed448PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(SignatureError, match=f"{truncated}: not a PEM private key"):
        Signer.from_file(truncated)
    with pytest.raises(SignatureError, match=f"{tmp_path / 'missing.key'}: cannot read private key"):
        signing.load_private_key(tmp_path / "missing.key")
    for bad, why in ((garbage, "not a PEM public key"), (half_pub, "not a PEM public key"),
                     (ed448, "key type Ed448PublicKey, expected an Ed25519 public key"),
                     (keys.priv, "this is a private key"),
                     (tmp_path / "missing.pub", "cannot read public key")):
        with pytest.raises(SignatureError, match=re.escape(f"{bad}: {why}")):
            Verifier.from_files([keys.pub, bad])
    with pytest.raises(SignatureError, match="no trusted keys"):
        Verifier.from_files([])


def test_sequence_increases_across_signers_and_processes(keys, monkeypatch):
    a = Signer.from_file(keys.priv).next_sequence()
    code = (f"from maa_generator.signing import Signer; print(Signer.from_file({str(keys.priv)!r}).next_sequence())")
    child = int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout)
    assert child > a
    assert Signer.from_file(keys.priv).next_sequence() > child
    monkeypatch.setattr(signing.time, "time_ns", lambda: 1000)  # a coarse or stuck clock
    first, second = Signer.from_file(keys.priv), Signer.from_file(keys.priv)
    seqs = [first.next_sequence(), second.next_sequence(), first.next_sequence()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_signer_state_survives_a_clock_step_back(keys, tmp_path, monkeypatch):
    state = tmp_path / "signer_state.json"
    monkeypatch.setattr(signing.time, "time_ns", lambda: 10**18)
    issued = Signer.from_file(keys.priv, state_path=state).next_sequence()
    monkeypatch.setattr(signing, "_ISSUED", {})  # a new process ...
    monkeypatch.setattr(signing.time, "time_ns", lambda: 10**17)  # ... after the clock stepped back
    assert Signer.from_file(keys.priv, state_path=state).next_sequence() == issued + 1


def test_persisted_verifier_state_refuses_replay_after_restart(keys, tmp_path):
    state = tmp_path / "deploy" / "accepted.json"
    msg = Signer.from_file(keys.priv).sign_message(_msg())
    assert Verifier.from_files([keys.pub], state_path=state).verify_message(msg) == keys.kid
    saved = json.loads(state.read_text())
    assert saved["last_sequence"] == {keys.kid: msg.sequence}
    assert [p.name for p in state.parent.iterdir()] == ["accepted.json"]  # no temp files left behind
    restarted = Verifier.from_files([keys.pub], state_path=state)
    assert restarted.last_sequence(keys.kid) == msg.sequence
    with pytest.raises(SignatureError, match="is not above the last accepted sequence"):
        restarted.verify_message(msg)
    assert Verifier.from_files([keys.pub]).verify_message(msg) == keys.kid  # without state a restart forgets
    state.write_text("{not json")
    with pytest.raises(SignatureError, match=f"{state}: cannot read the signature state file"):
        Verifier.from_files([keys.pub], state_path=state)


def test_keygen_cli_writes_the_pair_and_prints_the_key_id(tmp_path, capsys):
    assert keygen_main(["--out", str(tmp_path / "keys"), "--name", "alice"]) == 0
    out = capsys.readouterr().out
    priv, pub = tmp_path / "keys" / "alice.key", tmp_path / "keys" / "alice.pub"
    kid = key_id(signing.load_public_key(pub))
    assert f"key_id: {kid}" in out and Signer.from_file(priv).key_id == kid
    assert f"signing_key:={priv}" in out and f"trust.trusted_keys:=[{pub}]" in out
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert keygen_main(["--out", str(tmp_path / "keys"), "--name", "alice"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert Signer.from_file(priv).key_id == kid


@pytest.mark.ros
def test_real_policy_weights_message_survives_serialization(keys):
    from rclpy.serialization import deserialize_message, serialize_message

    from maa_msgs.msg import PolicyWeights

    msg = PolicyWeights()
    fill_message(msg, LAYOUT, np.asarray(_msg().data), PolicyMeta(generator_id="g", domain="go2", task="walk"))
    Signer.from_file(keys.priv).sign_message(msg)
    wire = deserialize_message(serialize_message(msg), PolicyWeights)
    assert len(wire.signature) == 64 and wire.key_id == keys.kid and wire.sequence == msg.sequence
    assert Verifier.from_files([keys.pub]).verify_message(wire) == keys.kid

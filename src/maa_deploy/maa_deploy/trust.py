"""Which policy weights a deploy node accepts, and when they become active (ROS-free).

* **Bounded inputs**: a weights message larger than ``max_weights_floats`` (or with inconsistent sizes) is refused
  before anything else looks at its data.
* **Signatures** (:mod:`maa_generator.signing`): with ``trusted_keys`` set, every weights message must carry an
  Ed25519 signature by one of those operator keys over its layout, data, generator id, domain, task and a sequence
  number that must rise (no replay). ``require_signed`` refuses unsigned weights (the real-robot default);
  without it, unsigned weights are accepted but signed ones are still verified.
* **Activation**: with ``require_activation`` (real-robot default) a validated policy is *staged* and becomes active
  only on an operator call (the node's ``~/activate_staged``); otherwise (sim) it is hot-swapped at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from maa_core.config import ConfigError
from maa_core.weights_io import WeightsError


@dataclass
class TrustConfig:
    """Weights acceptance policy; YAML/ROS section ``trust``."""

    trusted_keys: list[str] = field(default_factory=list)  # operator public key files (maa_keygen *.pub)
    require_signed: bool = False  # refuse unsigned weights (config/go2_real.yaml: true)
    require_activation: bool = False  # stage new weights until ~/activate_staged (config/go2_real.yaml: true)
    sequence_state_path: str = ""  # where the last accepted sequence per key survives restarts ("" = memory only)
    max_weights_floats: int = 2_000_000  # larger weights messages are refused unread (8 MB of float32)

    def __post_init__(self) -> None:
        if self.require_signed and not self.trusted_keys:
            raise ConfigError("trust.require_signed is true but trust.trusted_keys is empty: make an operator key "
                              "pair with `maa_keygen`, give the generator its private key (signing_key) and list the "
                              "public key file here")
        if not self.max_weights_floats > 0:
            raise ConfigError(f"trust.max_weights_floats must be > 0, got {self.max_weights_floats}")


class WeightsGate:
    """Checks a ``maa_msgs/PolicyWeights``-like message before the policy runner validates the network itself.

    :meth:`check` raises :class:`~maa_core.weights_io.WeightsError` (size) or
    :class:`~maa_generator.signing.SignatureError` (a ``ValueError``: unsigned, unknown key, bad signature, replay).
    """

    def __init__(self, config: TrustConfig):
        self.config = config
        self.verifier = None
        if config.trusted_keys:
            from maa_generator.signing import Verifier

            self.verifier = Verifier.from_files(config.trusted_keys, state_path=config.sequence_state_path or None)
        self.accepted_keys: dict[str, int] = {}
        self.refused = 0

    def check_size(self, msg) -> None:
        """Refuse oversized or inconsistent weights before touching their data."""
        n, limit = len(msg.data), self.config.max_weights_floats
        if n > limit or int(msg.num_params) > limit:
            self.refused += 1
            raise WeightsError(f"weights message too large: {max(n, int(msg.num_params))} floats > "
                               f"trust.max_weights_floats {limit}")

    def check(self, msg) -> str | None:
        """Size, then signature. Returns the signing key id (None for accepted unsigned weights)."""
        self.check_size(msg)
        if self.verifier is None or (len(msg.signature) == 0 and not self.config.require_signed):
            return None  # no trusted keys (a signature cannot be checked), or unsigned weights allowed
        try:
            key_id = self.verifier.verify_message(msg)
        except ValueError:
            self.refused += 1
            raise
        self.accepted_keys[key_id] = int(msg.sequence)
        return key_id

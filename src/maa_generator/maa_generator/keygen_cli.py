"""``maa_keygen``: create an operator key pair for signing policy weights.

    maa_keygen [--out ~/.config/maa/keys] [--name operator]

Writes ``<out>/<name>.key`` (private, mode 0600; stays with the generator) and ``<out>/<name>.pub`` (public; copy it
to every robot), then prints the key id and the ROS parameters that use them. Never overwrites a key.
Exit status: 0 on success, 1 when a file exists or cannot be written.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maa_generator.signing import SignatureError, generate_keypair

DEFAULT_DIR = "~/.config/maa/keys"


def _args(argv):
    p = argparse.ArgumentParser(prog="maa_keygen", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_DIR, help=f"folder for the key files (default {DEFAULT_DIR})")
    p.add_argument("--name", default="operator", help="file name stem: <name>.key and <name>.pub")
    args = p.parse_args(argv)
    if not args.name or "/" in args.name or args.name in (".", ".."):
        p.error(f"--name must be a plain file name stem, got {args.name!r}")
    return args


def main(argv=None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    out = Path(args.out).expanduser().absolute()
    private, public = out / f"{args.name}.key", out / f"{args.name}.pub"
    try:
        kid = generate_keypair(private, public)
    except SignatureError as exc:
        print(f"maa_keygen: {exc}", file=sys.stderr)
        return 1
    print(f"key_id: {kid}")
    print(f"private key: {private} (mode 0600; keep it on the generator machine only)")
    print(f"public key:  {public} (copy it to each robot)")
    print("generator parameter:")
    print(f"  signing_key:={private}")
    print("deploy parameters (on the robot, with the path of the copied .pub):")
    print(f"  trust.trusted_keys:=[{public}]")
    print("  trust.require_signed:=true")
    return 0


if __name__ == "__main__":
    sys.exit(main())

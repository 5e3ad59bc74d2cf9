"""Re-save a trained generator for bundling with its autoencoder's weight matrices in float16 (about half the size).

    python -m maa_generator.data.half_cli --generator models/go2/generator
    python -m maa_generator.data.half_cli --generator models/metaworld/generator --generation-only

``--generation-only`` also leaves out what generating never uses (the autoencoder's encoders, the diffusion model's
training copy; ``Generator.save(generation_only=True)``): about half the size again.

The autoencoder holds most of a generator's parameters (one MLP per policy layer) and is what outgrows the bundle
budget; its weight matrices are stored as float16 and load back as float32 (``Generator.save(half_autoencoder=True)``).
The command decodes the same latents with the original and the re-saved model and prints how far apart the decoded
policies are, so the precision cost is measured, not assumed. Training checkpoints stay float32.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from maa_generator.data.checkpoint import read_metadata
from maa_generator.models.generator import Generator


def decoded_gap(a: Generator, b: Generator, n: int = 64, seed: int = 0) -> dict:
    """Decode ``n`` random latents with both autoencoders: max and RMS difference of the decoded parameters,
    relative to the RMS parameter spread of the zoo (the autoencoder's ``param_std``)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, *a.autoencoder.latent_shape, generator=g)
    with torch.inference_mode():
        pa, pb = a.autoencoder.decode(z), b.autoencoder.decode(z)
    spread = float(a.autoencoder.param_std.pow(2).mean().sqrt())
    diff = pa - pb
    rms = float(diff.pow(2).mean().sqrt())
    return {"max_abs": float(diff.abs().max()), "rms": rms, "rms_over_zoo_spread": rms / spread}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Re-save a generator with float16 autoencoder weight matrices.")
    ap.add_argument("--generator", required=True, help="generator directory (Generator.save); rewritten in place")
    ap.add_argument("--generation-only", action="store_true",
                    help="also leave out the encoders and the diffusion training copy (cannot be trained further)")
    args = ap.parse_args(argv)
    path = Path(args.generator)
    extra = read_metadata(path).get("extra") or {}
    original = Generator.load(path)
    before = sum(f.stat().st_size for f in path.iterdir())
    tmp = path.with_name(path.name + ".half-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    original.save(tmp, extra=extra, half_autoencoder=True, generation_only=args.generation_only)
    gap = decoded_gap(original, Generator.load(tmp))
    old = path.with_name(path.name + ".full-old")
    shutil.rmtree(old, ignore_errors=True)
    path.rename(old)  # keep the original until the new one is in place
    tmp.rename(path)
    shutil.rmtree(old)
    after = sum(f.stat().st_size for f in path.iterdir())
    print(json.dumps({"generator": str(path), "bytes_before": before, "bytes_after": after, "decoded_gap": gap}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

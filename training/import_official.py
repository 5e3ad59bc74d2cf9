#!/usr/bin/env python3
"""Import official Make-An-Agent artifacts.

    # dataset files (one torch-saved dict {param, traj, task} per task) -> policy zoo
    python training/import_official.py data --zoo data/zoo_official path/to/door-open.pt path/to/drawer-close.pt

    # checkpoints -> generator directory (all-or-nothing; prints the key-mapping report)
    python training/import_official.py checkpoints --config config/paper_official.yaml --out runs/official \
        --autoencoder autoencoder.ckpt --embedding behavior_embedding.ckpt --diffusion model-best.torch

Files are read with ``torch.load(weights_only=True)``; ``--trust-pickle`` allows full unpickling (Lightning
checkpoints with pickled hyper-parameters need it) and must only be used for files you trust.
"""
from __future__ import annotations

import argparse
import sys

from maa_core.config import ConfigError, add_config_arguments
from maa_core.layout import metaworld_sac_layout
from maa_generator.interop.official_import import OfficialImportError, import_official_data, map_official_checkpoints
from maa_generator.models.generator import Generator
from maa_generator.training.config import load_run_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="official data.pt files -> zoo shards <task>__official")
    d.add_argument("--zoo", required=True)
    d.add_argument("--task", action="append", default=None, help="task name per file (default: file stem)")
    d.add_argument("files", nargs="+")
    c = sub.add_parser("checkpoints", help="official checkpoints -> generator directory")
    add_config_arguments(c, "config/paper_official.yaml", help="preset YAML of the official architectures")
    c.add_argument("--out", required=True)
    c.add_argument("--autoencoder")
    c.add_argument("--embedding")
    c.add_argument("--diffusion")
    for sp in (d, c):
        sp.add_argument("--trust-pickle", action="store_true", help="allow full unpickling (trusted files only)")
    args = p.parse_args(argv)
    try:
        if args.cmd == "data":
            entries = import_official_data(args.files, args.zoo, args.task, args.trust_pickle)
            for e in entries:
                print(f"wrote shard {e['name']}: {e['num_checkpoints']} checkpoints")
            return 0
        gen = Generator.build(metaworld_sac_layout(), load_run_config(args.config, args.overrides).model)
        reports = map_official_checkpoints(gen, args.autoencoder, args.embedding, args.diffusion, args.trust_pickle)
        for name, rep in reports.items():
            print(f"[{name}] {rep}")
        gen.save(args.out, extra={"source": "official Make-An-Agent checkpoints", "domain": "metaworld"})
        print(f"wrote {args.out}")
        return 0
    except (OfficialImportError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

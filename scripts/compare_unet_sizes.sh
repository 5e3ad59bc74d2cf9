#!/usr/bin/env bash
# Issue 3 "speed must not cost quality": the diffusion UNet of `default` / `metaworld_small` vs the `paper` UNet
# (163M parameters, down dims 512/1024/2048, kernel 5) on generated-policy success, same data, same protocol.
#
# The UNet is what makes `paper` slow (10 DDIM steps x 163M parameters per policy), so this is the ablation that
# isolates the speed/quality trade: every arm reuses the SAME trained autoencoder + behavior embedding
# (runs/metaworld_small: config/metaworld_small.yaml, the previous bundled preset), trains ONLY the latent
# diffusion stage for the same number of optimizer steps on the same batches, and is evaluated with
# config/metaworld_eval_full.yaml (4 seen + 4 unseen tasks, 50 noisy prompts per task, 5 configurations) exactly
# like results/metaworld/eval_maa.
#
#   scripts/compare_unet_sizes.sh                 # STEPS=1500 optimizer steps per arm (the paper arm: ~1 h CPU)
#   STEPS=500 ARMS="small paper" scripts/compare_unet_sizes.sh
# Re-running skips finished arms. Output: results/metaworld/unet_ablation/{<arm>/results.json, summary.json, .md}
set -euo pipefail
cd "$(dirname "$0")/.."
source .venv/bin/activate
STEPS="${STEPS:-1500}"
ARMS="${ARMS:-small default paper}"
BASE=runs/metaworld_small
OUT=results/metaworld/unet_ablation
[[ -d $BASE/stages/embedding/best ]] || {
  echo "missing $BASE (autoencoder + embedding): python training/train.py --config config/metaworld_small.yaml" \
    "--zoo data/metaworld_zoo --out $BASE --threads 1" >&2; exit 1; }

unet_args() {  # the diffusion section of each arm (everything else: config/metaworld_small.yaml)
  case $1 in
    small)   echo "--set diffusion.down_dims=[32,64] --set diffusion.kernel_size=3 --set diffusion.time_embed_dim=64 --set diffusion.cond_embed_dim=128";;
    default) echo "--set diffusion.down_dims=[128,256] --set diffusion.kernel_size=3 --set diffusion.time_embed_dim=128 --set diffusion.cond_embed_dim=256";;
    paper)   echo "--set diffusion.down_dims=[512,1024,2048] --set diffusion.kernel_size=5 --set diffusion.time_embed_dim=128 --set diffusion.cond_embed_dim=1024";;
    *) echo "unknown arm $1 (small | default | paper)" >&2; exit 1;;
  esac
}

mkdir -p "$OUT"
for arm in $ARMS; do
  run=runs/unet_ablation/${arm}_${STEPS}
  if [[ ! -f $run/generator/model.safetensors ]]; then
    mkdir -p "$run/stages"
    for stage in autoencoder embedding; do
      [[ -d $run/stages/$stage ]] || cp -r "$BASE/stages/$stage" "$run/stages/$stage"
    done
    resume=""
    [[ -d $run/stages/generator ]] && resume="--resume"
    # shellcheck disable=SC2046
    python training/train.py --config config/metaworld_small.yaml --zoo data/metaworld_zoo --out "$run" \
      --stage generator --threads "${THREADS:-1}" $resume $(unet_args "$arm") \
      --set train.generator.steps="$STEPS" --set train.generator.warmup_steps=100 \
      --set train.checkpoint_every=100
  fi
  [[ -f $OUT/$arm/results.json ]] || \
    python training/evaluate.py --config config/metaworld_eval_full.yaml --generator "$run/generator" \
      --baselines none --skip-source --out "$OUT/$arm"
done
# the bundled generator (small UNet, 8000 steps; results/metaworld/eval_maa) is listed as the reference arm
# shellcheck disable=SC2046
python training/compare_runs.py --out "$OUT" --steps "$STEPS" --command "STEPS=$STEPS scripts/compare_unet_sizes.sh" \
  $(for a in $ARMS; do echo "${a}_${STEPS}steps=$OUT/$a"; done) small_8000steps=results/metaworld/eval_maa

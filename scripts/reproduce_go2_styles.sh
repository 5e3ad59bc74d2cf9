#!/usr/bin/env bash
# Issue 13 end to end on the CPU (resumable: every step resumes or skips work already on disk). Needs the second agility
# run (scripts/reproduce_go2_agility.sh train collect): its final checkpoint (4122) and
# results/go2/agility_adaptation.safetensors.
#   1. styles: the 24 style specialists of config/go2_styles.yaml (runs/go2_styles, styles.json with the cost);
#   2. collect: the behavior-diverse zoo (config/go2_collect_styles.yaml -> runs/go2_zoo_styles);
#   3. generator: config/go2_small_styles.yaml on that zoo (runs/go2_small_styles);
#   4. evaluate: training/evaluate_go2_styles.py -> results/go2/summary.json, styles_eval.{md,png};
#   5. bundle: models/go2/generator from step 3 and the demo's two style prompts (prompts/go2_style_*.npz).
# Usage: [AGILITY=v2|v6|v7|v12] scripts/reproduce_go2_styles.sh [all|styles|collect|generator|evaluate|bundle]
#   (default: all, AGILITY=v2: the specialists start from the second agility run, config/go2_styles.yaml and
#   config/go2_collect_styles.yaml; AGILITY=v6 / v7 / v12 from the sixth / seventh / twelfth, with
#   config/go2_{styles,collect_styles}_<run>.yaml, run folders and the evaluation under their own _<run> names and
#   that run's own adaptation module)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f .venv/bin/activate ] && source .venv/bin/activate
STEP="${1:-all}"
AGILITY="${AGILITY:-v2}"
SUFFIX=""; EVAL_OUT=results/go2
[ "$AGILITY" = v2 ] || { SUFFIX="_$AGILITY"; EVAL_OUT="results/go2/styles_$AGILITY"; }
STYLES_CFG="config/go2_styles$SUFFIX.yaml"
COLLECT_CFG="config/go2_collect_styles$SUFFIX.yaml"
for f in "$STYLES_CFG" "$COLLECT_CFG"; do
  [ -f "$f" ] || { echo "AGILITY=$AGILITY: no $f (style configs exist for v2, v6, v7 and v12)" >&2; exit 2; }
done
STYLES_DIR="runs/go2_styles$SUFFIX"
ZOO="runs/go2_zoo_styles$SUFFIX"
GEN_RUN="runs/go2_small_styles$SUFFIX"
run() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }
newest() { find "$1" -name 'actor_*.safetensors' | sort | tail -n 1; }

if run styles; then
  python training/finetune_go2_styles.py --config "$STYLES_CFG"
fi
if run collect; then
  python training/collect_go2.py --config "$COLLECT_CFG"
fi
if run generator; then
  RESUME=""; [ -d "$GEN_RUN/stages" ] && RESUME="--resume"
  python training/train.py --config config/go2_small_styles.yaml --zoo "$ZOO" --out "$GEN_RUN" --threads 1 $RESUME
fi
if run evaluate; then
  # the reported styles: the 4 held out of the zoo and 8 zoo styles (2 per gait); the validation styles used to
  # choose the generator (docs/go2_styles.md) are other zoo styles
  HELD=trot_h30_s60,pronk_h-50_s110,pace_h0_s110,bound_h30_s60
  SEEN=trot_h-50_s60,pronk_h-50_s60,pace_h-50_s60,bound_h-50_s60,trot_h-50_s110,pronk_h0_s60,pace_h-50_s110,bound_h-50_s110
  python training/evaluate_go2_styles.py --generator "$GEN_RUN/generator" --zoo "$ZOO" \
    --styles-index "$STYLES_DIR/styles.json" --collect-config "$COLLECT_CFG" --out "$EVAL_OUT" \
    --styles "$HELD,$SEEN" --prompts-per-style 3 --work "runs/go2_styles_eval_final$SUFFIX" \
    --command "AGILITY=$AGILITY scripts/reproduce_go2_styles.sh evaluate"
fi
if run bundle; then
  # the adaptation module the zoo was collected with (the collect config's) is the one the bundle ships
  ADAPT=$(python -c "from maa_go2.collect import load_collect_config as c; print(c('$COLLECT_CFG').adaptation)")
  rm -rf models/go2/generator && cp -r "$GEN_RUN/generator" models/go2/generator
  # float16 autoencoder matrices, without what generating never uses (encoders, diffusion training copy)
  python -m maa_generator.data.half_cli --generator models/go2/generator --generation-only
  python -m maa_generator.data.novelty_cli --generator models/go2/generator --zoo "$ZOO"
  cp "$ADAPT" models/go2/adaptation.safetensors
  # the demo's two styles: the zoo's tallest high-swing trot and its most crouched pronk (docs/go2_styles.md)
  python training/record_go2_prompt.py --actor "$(newest "$STYLES_DIR/trot_h30_s110/actors")" --adaptation "$ADAPT" \
    --out prompts/go2_style_tall_trot.npz --vx 0.5 --seconds 10 --seed 0
  python training/record_go2_prompt.py --actor "$(newest "$STYLES_DIR/pronk_h-50_s60/actors")" --adaptation "$ADAPT" \
    --out prompts/go2_style_crouched_pronk.npz --vx 0.5 --seconds 10 --seed 0
fi

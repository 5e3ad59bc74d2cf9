#!/usr/bin/env bash
# Issue 12 end to end on the CPU (resumable: every step resumes or skips work already on disk):
#   1. train: the agility actor (config/go2_agility_${AGILITY}.yaml; 3 h wall-clock budget over any number of
#      sittings);
#   2. evaluate: results/go2/agility.{json,png} + agility_curve.png from the run's newest actor;
#   3. collect: the zoo of the run's actors (config/go2_collect_agility_${AGILITY}.yaml) with the run's final adaptation
#      module;
#   4. generator: config/go2_small.yaml on that zoo (runs/go2_small_agility);
#   5. bundle: models/go2/{generator,adaptation.safetensors} and prompts/go2_walk.npz from the newest actor.
# Usage: [AGILITY=v2|v3|v4|v5|v6|v7|v8|v9|v10|v11|v12|v13|v14|v15|v16] scripts/reproduce_go2_agility.sh [all|train|evaluate|collect|generator|bundle]
#   (default: all, AGILITY=v2, the run behind the bundled models; v3 to v16 are the third to sixteenth runs,
#   docs/go2_agility.md; v7 continues v6's final checkpoint, v9 v8's and v10 v8's iteration 600, so their train
#   step trains v6 / v8 first; v11 trains three gait teachers, then distills them into one actor; v12 trains the
#   eleventh run's teachers, continues two of them and distills again; v13 continues the twelfth trot-and-pace
#   teacher with error-weighted command draws, drops the bound teacher and distills again; v14 as v13 with more
#   single-axis commands instead; v15 as v14 with joint damping in the physics model too, for teacher and student;
#   v16 as v14 with a tighter velocity-tracking width for the teacher)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f .venv/bin/activate ] && source .venv/bin/activate
STEP="${1:-all}"
# The first run (config/go2_agility.yaml, runs/go2_agility, zoo config/go2_collect_agility.yaml) is superseded by
# the second (WTW's reward combination, docs/go2_agility.md).
AGILITY="${AGILITY:-v2}"
case "$AGILITY" in v2|v3|v4|v5|v6|v7|v8|v9|v10|v11|v12|v13|v14|v15|v16) ;; *) echo "AGILITY must be one of v2 v3 v4 v5 v6 v7 v8 v9 v10 v11 v12 v13 v14 v15 v16, got '$AGILITY'" >&2; exit 2 ;; esac
RUN=runs/go2_agility_$AGILITY
ADAPT=results/go2/agility_adaptation.safetensors
ACTOR=results/go2/agility_actor.safetensors
ZOO=runs/go2_zoo_agility_$AGILITY
GEN_RUN=runs/go2_small_agility_$AGILITY
run() { [ "$STEP" = all ] || [ "$STEP" = "$1" ]; }
newest() { find "$1" -name "$2" | sort | tail -n 1; }

if run train; then
  # the seventh (ninth) run starts from the sixth's (eighth's) final checkpoint (train.init_from); a finished run
  # returns at once
  [[ $AGILITY == v7 ]] && python training/train_go2.py --config config/go2_agility_v6.yaml
  [[ $AGILITY == v9 ]] && python training/train_go2.py --config config/go2_agility_v8.yaml
  if [[ $AGILITY =~ ^v1[0-6]$ ]] && [[ ! -f runs/go2_agility_v8/checkpoints/ckpt_00600.pt ]]; then
    python training/train_go2.py --config config/go2_agility_v8.yaml --iterations 600
  fi
  if [[ $AGILITY =~ ^v1[1-6]$ ]]; then  # gait teachers, then the student (maa_go2.distill)
    teachers=(config/go2_gait_pilot_v10_trot_pace.yaml config/go2_agility_v11_trot_pace.yaml
              config/go2_agility_v11_pronk.yaml)
    # the bound teacher taught nothing (contact match 0.55); the thirteenth to sixteenth runs spend its time elsewhere
    [[ $AGILITY =~ ^v1[12]$ ]] && teachers+=(config/go2_agility_v11_bound.yaml)
    # teachers continued from where the earlier budgets stopped them (init_from: the earlier teacher's run folder)
    [[ $AGILITY != v11 ]] && teachers+=(config/go2_agility_v12_trot_pace.yaml config/go2_agility_v12_pronk.yaml)
    [[ $AGILITY =~ ^v1[3-6]$ ]] && teachers+=("config/go2_agility_${AGILITY}_trot_pace.yaml")
    for teacher in "${teachers[@]}"; do
      python training/train_go2.py --config "$teacher"
    done
    python training/distill_go2.py --config "config/go2_agility_$AGILITY.yaml"
  else
    python training/train_go2.py --config "config/go2_agility_$AGILITY.yaml"
  fi
fi
if run evaluate; then
  # the report of record (results/go2/agility.*) is the sixteenth run's; 100 episodes and 96 robots on the second run's
  # robots, the yardstick every run since the ninth is compared on
  OUT=results/go2/agility_$AGILITY; [[ $AGILITY == v16 ]] && OUT=results/go2/agility
  python training/evaluate_go2_agility.py --run "$RUN" --num-envs 96 --episodes 100 --seed 1 \
    --randomization config/go2_agility_v2.yaml --out "$OUT"
fi
if run collect; then
  [[ -f config/go2_collect_agility_$AGILITY.yaml ]] || {
    echo "collect: no config/go2_collect_agility_$AGILITY.yaml (this run's actors were not made into a zoo)" >&2; exit 2; }
  cp "$(newest "$RUN/adaptation" 'adaptation_*.safetensors')" "$ADAPT"
  cp "$(newest "$RUN/actors" 'actor_*.safetensors')" "$ACTOR"
  python training/collect_go2.py --config "config/go2_collect_agility_$AGILITY.yaml"  # skips shards already written
fi
if run generator; then
  RESUME=""; [ -d "$GEN_RUN/stages" ] && RESUME="--resume"
  python training/train.py --config config/go2_small.yaml --zoo "$ZOO" --out "$GEN_RUN" --threads 1 $RESUME
fi
if run bundle; then
  mkdir -p models/go2 prompts
  rm -rf models/go2/generator && cp -r "$GEN_RUN/generator" models/go2/generator
  python -m maa_generator.data.novelty_cli --generator models/go2/generator --zoo "$ZOO"
  cp "$ADAPT" models/go2/adaptation.safetensors
  python training/record_go2_prompt.py --actor "$ACTOR" --adaptation "$ADAPT" \
    --out prompts/go2_walk.npz --vx 0.5 --seconds 10 --seed 0
fi

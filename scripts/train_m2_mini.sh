#!/usr/bin/env bash
# Train m2-mini, the embedded model, from seeded random weights with m2sdk's own pipeline, measure it,
# and put it into the package (under 3 h on 2 CPU cores, no network; the result ships, so users never
# need to run it):
#
#   bash scripts/train_m2_mini.sh   # data -> vision -> sft (reading, all, counting, roles, comparing) -> rl -> m2 eval
#                                   # -> 4 bundles
#
# 1. m2 data synth --labels: 24k training questions (seed 0) and 2000 held-out ones (seed 90001, 400 per task) about
#    simple rooms (3-5 objects, one colour each, every length in metres) at 224x168, the frame size m2-mini
#    sees, with dense instance/depth labels beside each training frame.
# 2. m2 train vision (train/configs/m2_mini_vision.yaml: the vision tower learns the vision code from the
#    labels), m2 train sft three times (train/configs/m2_mini_sft_read.yaml: the decoder learns to find the
#    named object and read its depth on camera-distance questions alone; train/configs/m2_mini_sft.yaml: all
#    five tasks; train/configs/m2_mini_sft_count.yaml: counts answered colour by colour), twice more for the
#    relative questions (train/configs/m2_mini_sft_roles.yaml: the answer fetches each named object by its role;
#    train/configs/m2_mini_sft_compare.yaml: and what the question compares), then m2 train rl
#    (train/configs/m2_mini_rl.yaml: GRPO on camera distance, object size and count, EDNM reward, MRA for
#    counts, no curriculum).
# 3. m2 eval of the SFT and the RL checkpoints on the held-out set, beside the constant and random
#    baselines (computed from the training set by the same code); m2 export to fp32/fp16/int8/int4 bundles,
#    each evaluated on ONNX Runtime the same way.
# 4. The RL checkpoint is copied to sdk/m2sdk/assets/m2-mini with QUALITY.md/quality.json (the tables) and
#    provenance.json (commands, config and data hashes, weights SHA-256), which tests/sdk/test_m2_mini.py checks.
#
# Everything is written under runs/m2-mini (git-ignored). A rerun on the same machine repeats the same
# bytes (fixed seeds, deterministic data); other CPUs can differ in the last float bits.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/m2 ] || bash scripts/setup.sh
. .venv/bin/activate

WORK=runs/m2-mini
ASSET=sdk/m2sdk/assets/m2-mini
TASKS=(camera_distance relative_distance relative_direction object_count object_size)
ROOMS=(--width 224 --height 168 --objects 3 5 --unique-colours --units metres --per-scene 2 --tasks "${TASKS[@]}" --no-progress)
step() { echo; echo "== $(date +%T) $*"; }

step "1/4 data"
rm -rf "$WORK/data"
m2 data synth --out "$WORK/data/train" --n 24000 --seed 0 "${ROOMS[@]}" --labels
m2 data synth --out "$WORK/data/heldout" --n 2000 --seed 90001 "${ROOMS[@]}"

step "2/4 training: vision code, SFT, then RL (EDNM)"
m2 train vision train/configs/m2_mini_vision.yaml --output-dir "$WORK/vision" --resume never
m2 train sft train/configs/m2_mini_sft_read.yaml --output-dir "$WORK/sft-read" --resume never
m2 train sft train/configs/m2_mini_sft.yaml --output-dir "$WORK/sft" --resume never
m2 train sft train/configs/m2_mini_sft_count.yaml --output-dir "$WORK/sft-count" --resume never
m2 train sft train/configs/m2_mini_sft_roles.yaml --output-dir "$WORK/sft-roles" --resume never
m2 train sft train/configs/m2_mini_sft_compare.yaml --output-dir "$WORK/sft-compare" --resume never
m2 train rl train/configs/m2_mini_rl.yaml --output-dir "$WORK/rl" --resume never

step "3/4 evaluation and quantized bundles"
EVAL=(--data "$WORK/data/heldout" --fast --baselines "$WORK/data/train")
m2 eval --model "$WORK/sft-compare/final" "${EVAL[@]}" --backend torch --out "$WORK/eval/sft"
m2 eval --model "$WORK/rl/final" "${EVAL[@]}" --backend torch --out "$WORK/eval/rl"
for precision in fp32 fp16 int8 int4; do
  m2 export "$WORK/rl/final" --out "$WORK/bundles/$precision" --precision "$precision" --image-size 224x168 \
    --eval-samples 0 --force
  m2 eval --model "$WORK/bundles/$precision" "${EVAL[@]}" --backend onnxruntime --out "$WORK/eval/$precision"
done

step "4/4 into the package: $ASSET"
python scripts/m2_mini_card.py --work "$WORK" --asset "$ASSET"
echo "done: load it with m2sdk.load(\"m2-mini\"); the tables are in $ASSET/QUALITY.md"

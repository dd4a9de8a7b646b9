#!/usr/bin/env bash
# Train the deep denoiser (ours) and its torch.nn twin with one recipe.
#
#   tools/train_deep.sh DEVICE EPOCHS [OUT]
#
# writes OUT/deep_data (the data), OUT/deep (ours) and OUT/deep_twin (the twin); OUT
# defaults to runs, where benchmarks/quality.py looks for the runs.
#
# Data: 64x64 crops of the training photos (photos/train from `n2n photos`, plus
# scikit-image's bundled ones), channel and gain augmentation, stored clean: every
# epoch draws a new Noise2Noise pair of each crop, sigma per crop uniform in [0, 50],
# clipped input and unclipped target. Training: our U-Net (`--preset deep`), Adam,
# EPOCHS epochs at lr 1e-3, then a quarter as many again at lr 1e-4; the twin gets the
# same epochs and schedule. With TIME_LIMIT=MINUTES the first phase stops at the first
# epoch past that much training instead (the twin follows the epochs it reached).
# Re-running the command resumes where it stopped (every step is resumable).
#
# Environment: N_TRAIN crops (default 20000), TIME_LIMIT (minutes, optional).
set -euo pipefail
usage="usage: tools/train_deep.sh DEVICE EPOCHS [OUT]"
device=${1:?$usage}
epochs=${2:?$usage}
out=${3:-runs}
data="$out/deep_data" ours="$out/deep" twin="$out/deep_twin"
n2n="python3 -m n2n_nograd"

if [ ! -f "$data/train_clean.pkl" ]; then
    $n2n data --out "$data" --size 64 --n-train "${N_TRAIN:-20000}" --train-photos photos/train \
        --sigma-range 0 50 --augment channels --augment gain --unclipped-targets --fresh-noise
fi

last_epoch() { python3 -c "import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['epoch'])" "$1"; }

# Phase 1 of ours; its end is recorded, so that a re-run goes on with phase 2.
phase1="$ours/phase1_epochs"
if [ ! -f "$phase1" ]; then
    resume=(); [ -f "$ours/run.json" ] && resume=(--resume)
    $n2n train --data "$data" --preset deep --device "$device" --out "$ours" --epochs "$epochs" \
        ${TIME_LIMIT:+--time-limit "$TIME_LIMIT"} "${resume[@]}"
    last_epoch "$ours/metrics.jsonl" > "$phase1"
fi
e1=$(cat "$phase1")
e2=$((e1 + (e1 + 3) / 4))
$n2n train --out "$ours" --resume --device "$device" --lr 1e-4 --epochs "$e2"

# The twin: the same data, epochs and schedule.
if [ ! -f "$twin/run.json" ] || [ "$(last_epoch "$twin/metrics.jsonl")" -lt "$e1" ]; then
    resume=(); [ -f "$twin/run.json" ] && resume=(--resume)
    $n2n train --data "$data" --impl torch --preset deep --device "$device" --out "$twin" \
        --epochs "$e1" "${resume[@]}"
fi
$n2n train --out "$twin" --resume --device "$device" --lr 1e-4 --epochs "$e2"

"""Runs a tiny training with a delay per micro-batch (so a kill lands mid-run)."""

import json
import sys
import time
from pathlib import Path

import msm.train.engine as engine
from msm.train import TrainConfig, run_train

cfg = TrainConfig.model_validate(json.loads(sys.argv[2]))
delay = float(sys.argv[3])
orig = engine._tensors


def slow(rows, device):
    time.sleep(delay)
    return orig(rows, device)


engine._tensors = slow
res = run_train(cfg, Path(sys.argv[1]), echo=lambda s: print(s, flush=True))
print("final_loss", res.final_loss, flush=True)

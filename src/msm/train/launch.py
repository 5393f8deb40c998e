"""``--launcher accelerate``: run the same training under ``accelerate launch``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from msm.errors import MsmError
from msm.train.batches import read_stage_data
from msm.train.checkpoint import replace_output
from msm.train.config import TrainConfig
from msm.train.engine import prepare_output

ENV_KEY = "MSM_TRAIN_CONFIG_JSON"


def launch_accelerate(cfg: TrainConfig, out: Path, overwrite: bool = False) -> bool:
    """Run training in ``accelerate launch`` workers; False if already complete."""
    conf = Path(cfg.accelerate_config or "")
    if not conf.is_file():
        raise MsmError(f"accelerate config not found: {conf}")
    if prepare_output(cfg, out, overwrite) is not None:
        return False
    if overwrite:  # the workers see a clear folder; data is checked before anything goes
        read_stage_data(cfg)
        replace_output(cfg, out)
    inner = cfg.model_copy(update={"launcher": "none", "accelerate_config": None})
    env = dict(os.environ)
    env[ENV_KEY] = inner.model_dump_json()
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(conf)]
    cmd += ["-m", "msm.train", str(out)]
    rc = subprocess.run(cmd, env=env, check=False).returncode
    if rc != 0:
        raise MsmError(f"training under accelerate launch failed (exit {rc}); see messages above")
    if not out.is_dir():
        raise MsmError(f"accelerate launch finished but wrote no {out}")
    return True

"""Worker entry point used by ``--launcher accelerate`` (one per process)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from msm.errors import MsmError
from msm.train.config import TrainConfig
from msm.train.engine import run_train
from msm.train.launch import ENV_KEY


def main() -> None:
    """Train with the config ``launch_accelerate`` passed in the environment."""
    try:
        cfg = TrainConfig.model_validate_json(os.environ[ENV_KEY])
        run_train(cfg, Path(sys.argv[1]))
    except MsmError as e:
        print(f"msm: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""``python -m msm.cli``."""

from msm.cli import main

main()

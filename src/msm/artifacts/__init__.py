"""What an output folder is: a stage's identity (the one rule for ``--out`` ownership and
for plan hashes). Manifests, package-data hashes and the checkpoint layout are to move here
too (see ``docs/architecture.md``)."""

from msm.artifacts.identity import NOT_IDENTITY, identity, stage_of

__all__ = ["NOT_IDENTITY", "identity", "stage_of"]

"""The SfM image's program: a SageMaker Processing job (no arguments), or
`python -m services.sfm.container.entrypoint --input PHOTOS --output OUT [--config cfg.json]`
(shared/container.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# pycolmap's glog installs its own SIGTERM handler when imported (a stack dump, then death by the
# signal, leaving no failure file). Imported first, so the stage's handler replaces it
# (shared/termination.py), whenever the program itself imports pycolmap.
import pycolmap  # noqa: F401, I001

from services.sfm.container.config import Config
from services.sfm.container.program import run
from shared.container import stage_main
from shared.stage import StageName


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.SFM, run, Config, argv)


if __name__ == "__main__":
    sys.exit(main())

"""The training image's program: a SageMaker Training job (`docker run IMAGE train`), or
`python -m services.train.container.entrypoint --input SFM_OUT --output OUT [--config cfg.json]`
(shared/container.py). It resumes from its checkpoints and, on SIGTERM, saves one and stops."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# pycolmap's glog installs its own SIGTERM handler when imported (a stack dump, then death by the
# signal, leaving no failure file). Imported first, so the stage's handler replaces it
# (shared/termination.py), whenever the program itself imports pycolmap.
import pycolmap  # noqa: F401, I001

from services.train.container.config import Config
from services.train.container.program import run
from shared.container import stage_main
from shared.stage import StageName


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.TRAIN, run, Config, argv, with_checkpoints=True)


if __name__ == "__main__":
    sys.exit(main())

"""The training image's program: a SageMaker Training job (`docker run IMAGE train`), or
`python -m services.train.container.entrypoint --input SFM_OUT --output OUT [--config cfg.json]`
(shared/container.py). It resumes from its checkpoints and, on SIGTERM, saves one and stops."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.train.container.config import Config
from services.train.container.program import run
from shared.container import stage_main
from shared.stage import StageName


# pycolmap (whose glog installs a SIGTERM handler of its own when imported) comes in with the
# program, before the stage's handler is set (shared/termination.py); importing it before torch
# instead corrupts memory (double free at exit).


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.TRAIN, run, Config, argv, with_checkpoints=True)


if __name__ == "__main__":
    sys.exit(main())

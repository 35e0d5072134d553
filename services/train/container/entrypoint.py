"""The training image's program: a SageMaker Training job (`docker run IMAGE train`), or
`python -m services.train.container.entrypoint --input SFM_OUT --output OUT [--config cfg.json]`
(shared/container.py). It resumes from its checkpoints and, on SIGTERM, saves one and stops."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from shared.threads import apply_cpu_thread_defaults

apply_cpu_thread_defaults()  # before torch / OpenMP load (the imports below)

from services.train.container.config import Config  # noqa: E402
from services.train.container.program import run  # noqa: E402
from shared.container import stage_main  # noqa: E402
from shared.stage import StageName  # noqa: E402


# pycolmap (whose glog installs a SIGTERM handler of its own when imported) comes in with the
# program, before the stage's handler is set (shared/termination.py); importing it before torch
# instead corrupts memory (double free at exit).


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.TRAIN, run, Config, argv, with_checkpoints=True)


if __name__ == "__main__":
    sys.exit(main())

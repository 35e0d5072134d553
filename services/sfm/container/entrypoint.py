"""The SfM image's program: a SageMaker Processing job (no arguments), or
`python -m services.sfm.container.entrypoint --input PHOTOS --output OUT [--config cfg.json]`
(shared/container.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.sfm.container.config import Config
from services.sfm.container.program import run
from shared.container import stage_main
from shared.stage import StageName

# pycolmap's glog installs its own SIGTERM handler when pycolmap is imported: a stack dump (which
# can hang) and death by the signal, leaving no failure file. Imported here, before stage_main sets
# the stage's handler (shared/termination.py), which then replaces glog's - the program itself
# imports pycolmap only later, lazily. After PIL: pycolmap loaded first breaks PIL's PNG encoder
# (zlib, "free(): invalid pointer").
import PIL.Image  # noqa: E402, F401, I001
import pycolmap  # noqa: E402, F401


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.SFM, run, Config, argv)


if __name__ == "__main__":
    sys.exit(main())

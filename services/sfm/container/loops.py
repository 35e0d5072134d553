"""Sequential matching with loop detection, from a visual index built on the job's own features.

COLMAP finds loops (a place seen again minutes later in a video) by querying a visual index
("vocabulary tree") every few frames. Its usual index is a download, which the stage never
makes: `build_visual_index` trains one (pycolmap `VisualIndex`: k-means visual words) on a
sample of the SIFT descriptors already in the database. pycolmap aborts the whole process on a
bad or missing index, which no `try` can catch, so building and matching run in a child
process (`python -m services.sfm.container.loops`); when the child fails, the caller falls back
to sequential matching without loops and says so.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from services.sfm.container.config import Config
from services.sfm.container.matching import run_matcher

logger = logging.getLogger(__name__)

MAX_TRAINING_DESCRIPTORS = 200_000  # k-means sample: minutes would buy no better loops
DESCRIPTORS_PER_WORD = 64  # faiss wants >= 39 training points per centroid
MIN_WORDS, MAX_WORDS = 256, 16_384
REPO_ROOT = Path(__file__).resolve().parents[3]


def visual_word_count(descriptors: int) -> int:
    """A power of two in [MIN_WORDS, MAX_WORDS] with about DESCRIPTORS_PER_WORD descriptors each."""
    words = MIN_WORDS
    while words * 2 * DESCRIPTORS_PER_WORD <= descriptors and words * 2 <= MAX_WORDS:
        words *= 2
    return words


def build_visual_index(database: Path, index_path: Path, cfg: Config) -> int:
    """Train a visual index on (a sample of) the database's SIFT descriptors and write it to
    index_path; returns the number of visual words."""
    import pycolmap

    db = pycolmap.Database.open(database)
    try:
        chunks = [db.read_descriptors(image.image_id).to_float().data for image in db.read_all_images()]
    finally:
        db.close()
    descriptors = np.concatenate([c for c in chunks if len(c)]).astype(np.float32)  # [N, 128]
    rng = np.random.default_rng(cfg.seed)
    if len(descriptors) > MAX_TRAINING_DESCRIPTORS:
        descriptors = descriptors[rng.choice(len(descriptors), MAX_TRAINING_DESCRIPTORS, replace=False)]
    index = pycolmap.VisualIndex.create(descriptors.shape[1], 64)
    options = pycolmap.VisualIndex.BuildOptions()
    options.num_visual_words = visual_word_count(len(descriptors))
    options.num_threads = cfg.num_threads
    options.num_rounds = 1
    index.build(options, pycolmap.FeatureDescriptorsFloat(pycolmap.FeatureExtractorType.SIFT, descriptors))
    index.write(str(index_path))
    return index.num_visual_words()


def match_sequential_with_loops(database: Path, cfg: Config, scratch: Path) -> bool:
    """Sequential matching with loop detection in a child process; False when the child failed
    (then nothing may have been matched: the caller runs plain sequential matching)."""
    config_path = scratch / "loops_config.json"
    config_path.write_text(cfg.model_dump_json())
    command = [
        sys.executable,
        "-m",
        "services.sfm.container.loops",
        str(database),
        str(scratch / "visual_index.bin"),
        str(config_path),
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        logger.warning(
            "loop detection failed", extra={"returncode": result.returncode, "stderr": result.stderr[-2000:]}
        )
        return False
    return True


def main(argv: list[str]) -> int:
    """`python -m services.sfm.container.loops DATABASE INDEX_PATH CONFIG_JSON`."""
    import pycolmap

    pycolmap.logging.minloglevel = 1
    database, index_path, config_path = (Path(a) for a in argv)
    cfg = Config.model_validate_json(config_path.read_text())
    build_visual_index(database, index_path, cfg)
    run_matcher("sequential", database, cfg, visual_index=index_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

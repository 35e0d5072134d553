"""Scoring `spaceport demo`: recovered camera poses against the rendered ground truth, and the
trained model's held-out PSNR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shared.wording import plural


def pose_errors(
    estimated: dict[str, tuple[np.ndarray, np.ndarray]], truth: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """Registered count plus `services.sfm.container.evaluation.pose_errors` as a flat dict.

    Poses are world-to-camera (R [3, 3], t [3]). Position errors are relative to the scene radius
    (RMS spread of the true camera centres); rotation errors in degrees; gross outliers: cameras
    off by more than 5 deg or 10 % of the radius (evaluation.is_gross).
    """
    from services.sfm.container.evaluation import is_gross, per_image_errors

    names = sorted(set(estimated) & set(truth))
    if len(names) < 3:
        return {"registered": len(names), "total": len(truth)}
    rotation_deg, centre_rel = per_image_errors(estimated, truth)
    return {
        "registered": len(names),
        "total": len(truth),
        "position_error_median": float(np.median(centre_rel)),
        "position_error_max": float(np.max(centre_rel)),
        "rotation_error_median_deg": float(np.median(rotation_deg)),
        "rotation_error_max_deg": float(np.max(rotation_deg)),
        "gross_outliers": int(is_gross(rotation_deg, centre_rel).sum()),
    }


def read_colmap_poses(sparse_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import pycolmap

    model = pycolmap.Reconstruction(str(sparse_dir))
    poses = {}
    for image in model.images.values():
        if not image.has_pose:
            continue
        pose = image.cam_from_world()
        poses[image.name] = (np.asarray(pose.rotation.matrix()), np.asarray(pose.translation))
    return poses


def score_demo(render_dir: Path, job_dir: Path, job: Any) -> list[str]:
    from spaceport.synthetic import TRUTH_FILE, load_truth

    lines = ["", "demo scores:"]
    truth = load_truth(render_dir / TRUTH_FILE)
    sparse = job_dir / "sfm/sparse/0"
    if (sparse / "images.bin").exists() or (sparse / "images.txt").exists():
        errors = pose_errors(read_colmap_poses(sparse), truth.poses())
        lines.append(f"  cameras registered      {errors['registered']}/{errors['total']}")
        if "position_error_median" in errors:
            lines.append(
                "  camera position error   median {:.2%}, max {:.2%} of the camera path radius".format(
                    errors["position_error_median"], errors["position_error_max"]
                )
            )
            lines.append(
                "  camera rotation error   median {:.2f} deg, max {:.2f} deg".format(
                    errors["rotation_error_median_deg"], errors["rotation_error_max_deg"]
                )
            )
            lines.append(f"  badly placed cameras    {errors['gross_outliers']} "
                         "(over 5 deg or 10 % of the radius off)")
    else:
        lines.append("  no SfM model to score")
    train = job.stages.get("train")
    metrics = train.metrics if train is not None else {}
    if metrics.get("psnr") is not None:
        views = metrics.get("n_test_views")
        lines.append(
            f"  held-out PSNR           {float(metrics['psnr']):.2f} dB"
            + (f" over {plural(views, 'view')}" if views else "")
        )
    else:
        lines.append("  held-out PSNR           not available")
    return lines

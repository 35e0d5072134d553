"""Scoring `spaceport demo`: recovered camera poses against the rendered ground truth, and the
trained model's held-out PSNR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def umeyama(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising |s R source + t - target|^2; source, target: [N, 3]."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    cov = xt.T @ xs / len(source)  # [3, 3]
    u, d, vt = np.linalg.svd(cov)
    fix = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[2, 2] = -1.0
    rotation = u @ fix @ vt
    variance = (xs**2).sum() / len(source)
    scale = float(np.trace(np.diag(d) @ fix) / variance) if variance > 0 else 1.0
    return scale, rotation, mu_t - scale * rotation @ mu_s


def rotation_angle_deg(rotation: np.ndarray) -> float:
    cos = (np.trace(rotation) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def pose_errors(
    estimated: dict[str, tuple[np.ndarray, np.ndarray]], truth: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """Align estimated camera centres to the truth (similarity), then compare centres and
    orientations. Poses are world-to-camera (R [3, 3], t [3]). Position errors are given relative
    to the size of the camera path (median distance of the true centres from their mean)."""
    names = sorted(set(estimated) & set(truth))
    if len(names) < 3:
        return {"registered": len(names), "total": len(truth)}
    centre = lambda pose: -pose[0].T @ pose[1]
    est = np.stack([centre(estimated[n]) for n in names])  # [N, 3]
    true = np.stack([centre(truth[n]) for n in names])  # [N, 3]
    scale, rotation, shift = umeyama(est, true)
    aligned = (scale * (rotation @ est.T)).T + shift
    extent = float(np.median(np.linalg.norm(true - true.mean(0), axis=1))) or 1.0
    position = np.linalg.norm(aligned - true, axis=1) / extent
    angles = [rotation_angle_deg(estimated[n][0] @ rotation.T @ truth[n][0].T) for n in names]
    return {
        "registered": len(names),
        "total": len(truth),
        "position_error_median": float(np.median(position)),
        "position_error_max": float(np.max(position)),
        "rotation_error_median_deg": float(np.median(angles)),
        "rotation_error_max_deg": float(np.max(angles)),
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
    else:
        lines.append("  no SfM model to score")
    train = job.stages.get("train")
    metrics = train.metrics if train is not None else {}
    if metrics.get("psnr") is not None:
        views = metrics.get("n_test_views")
        lines.append(
            f"  held-out PSNR           {float(metrics['psnr']):.2f} dB"
            + (f" over {views} views" if views else "")
        )
    else:
        lines.append("  held-out PSNR           not available")
    return lines

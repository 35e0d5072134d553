"""Is a delivered model as good as a good capture gives? If not, say so and why.

A job that ends with a model is delivered, but when its held-out PSNR or the share of photos
placed in 3D is far below what clean photo sets give, the email, report, status and CLI say the
quality is poor instead of "ready", with the capture checks of the SfM stage as the reasons
(services/sfm/container/capture.py, metrics `capture`).

Bands, measured with bench/capture_bench.py (preview preset, the CPU default; docs/photos.md):
- held-out PSNR: clean sets give 25.8-26.5 dB (banana) to 31.8 dB (caliterra), the synthetic
  demo scenes 30-31 dB; banana with every other photo shaken 25.1 dB; the bogus-focal-tag run
  of issue 16 was delivered at 20.5 dB. Below POOR_PSNR_DB the renders visibly blur or show
  artefacts. (Dark sets read high: PSNR is on pixel values.)
- photos placed: every clean set places at least 15 of 16; below POOR_REGISTRATION a fifth of the views
  or more are missing from the model.
Pure Python (read by the Lambdas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.causes import CauseCode, advice_for
from shared.wording import agree, plural

POOR_PSNR_DB = 22.0
POOR_REGISTRATION = 0.8
CAPTURE_CHECKS = {  # metrics `capture` key -> what it says about the named photos, the cause whose advice helps
    "focal_tags_ignored": ("had implausible focal-length tags (ignored; the focal length was estimated)", None),
    "dark": ("are dark (underexposed)", CauseCode.DARK_IMAGES),
    "clipped_dark": ("are mostly crushed to black", CauseCode.DARK_IMAGES),
    "clipped_bright": ("are mostly blown out to white", CauseCode.OVEREXPOSED_IMAGES),
    "blurred": ("are blurred (camera shake or focus)", CauseCode.BLURRED_IMAGES),
    "few_features": ("show few features to match", CauseCode.NO_OVERLAP),
}
GENERAL_ADVICE = (
    "Take more photos from more positions (60-80% overlap between neighbours, the subject sharp and "
    "evenly lit), or run the job again with a higher preset."
)


@dataclass(frozen=True)
class QualityVerdict:
    poor: bool
    reasons: list[str] = field(default_factory=list)  # the figures that are poor, then what explains them
    advice: list[str] = field(default_factory=list)  # what to do about it, one text per kind of problem

    def to_json(self) -> dict[str, Any]:
        return {"poor": self.poor, "reasons": list(self.reasons), "advice": list(self.advice)}


def _names(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def capture_findings(sfm: dict[str, Any]) -> list[str]:
    """One sentence per capture check that flagged photos, from SfM metrics."""
    flagged = sfm.get("capture") or {}
    reasons = {"focal_tags_ignored": "; ".join(flagged.get("focal_tag_reasons") or [])}  # why, where recorded
    return [f"{plural(len(names), 'photo')} {agree(len(names), CAPTURE_CHECKS[check][0])}"
            + (f" ({reasons[check]})" if reasons.get(check) else "") + f": {_names(names)}"
            for check, names in flagged.items() if names and check in CAPTURE_CHECKS]


def assess_quality(sfm: dict[str, Any], train: dict[str, Any]) -> QualityVerdict:
    """The verdict on a delivered model from the SfM and training stage metrics (missing: unknown)."""
    poor = []
    psnr = train.get("psnr")
    if psnr is not None and psnr < POOR_PSNR_DB:
        poor.append(f"held-out PSNR is {psnr:.1f} dB, below {POOR_PSNR_DB:.0f} dB (good photo sets give 26-32 dB)")
    ratio = sfm.get("registration_ratio")
    if ratio is not None and ratio < POOR_REGISTRATION:
        poor.append(f"only {sfm.get('images_registered')} of {sfm.get('images_in')} photos ({ratio:.0%}) "
                    f"could be placed in 3D")
    if not poor:
        return QualityVerdict(False)
    flagged = sfm.get("capture") or {}
    causes = [CAPTURE_CHECKS[check][1] for check, names in flagged.items() if names and check in CAPTURE_CHECKS]
    if ratio is not None and ratio < POOR_REGISTRATION:
        causes.append(CauseCode.LOW_REGISTRATION)
    advice = [advice_for(cause) for cause in dict.fromkeys(c for c in causes if c is not None)]
    if not advice:
        advice = [GENERAL_ADVICE]
    return QualityVerdict(True, poor + capture_findings(sfm), advice)

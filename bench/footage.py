"""The benchmark footage: real clips transcoded once to 1280x720 at 15 fps, cached.

Every camera in the benchmark loops one of these files, paced at 15 fps, so the
baseline and CashWatch decode exactly the same H.264 stream.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media" / "video"
CACHE = REPO / "bench" / ".cache"
SOURCE_FPS = 15.0
SIZE_WH = (1280, 720)
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
            raise FileNotFoundError(f"benchmark footage missing: {source} "
                                    "(the shared media folder is needed for `make bench`)")
        target = CACHE / f"{name}_{SIZE_WH[0]}x{SIZE_WH[1]}_{SOURCE_FPS:g}fps.mp4"
        if not target.is_file():
            print(f"[bench] transcoding {source.name} to {target.name} (once)", flush=True)
            transcode(source, target)
        out[name] = target
    return out


def transcode(source: Path, target: Path) -> None:
    """H.264 yuv420p, a keyframe every 2 s like a typical IP camera; atomic rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.mp4")
    if shutil.which("ffmpeg"):
        width, height = SIZE_WH
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(source), "-an",
                        "-vf", f"scale={width}:{height},fps={SOURCE_FPS:g}", "-c:v", "libx264",
                        "-preset", "veryfast", "-crf", "23", "-g", str(int(2 * SOURCE_FPS)),
                        "-pix_fmt", "yuv420p", str(partial)], check=True)
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

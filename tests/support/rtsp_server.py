"""A loopback RTSP server for tests: H.264 MP4 files served without re-encoding, looping forever.

Run with Debian's interpreter, which has GStreamer's introspection bindings (the project venv
does not): ``/usr/bin/python3 tests/support/rtsp_server.py --port 8554 --mount cam1=/tmp/a.mp4``.
Prints ``READY <port>`` on stdout once the server listens; ``tests/support/rtsp.py`` drives it.
Packages: python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good/-bad.

This file must stay importable without the project (no cashwatch imports) and must not be
imported by the venv (``gi`` is missing there).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# Demux and packetise only: no decoder or encoder, so a camera stream costs almost no CPU.
LAUNCH = (
    "( filesrc location={location} ! qtdemux ! h264parse config-interval=-1 "
    "! rtph264pay name=pay0 pt=96 )"
)


def parse_mount(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` -> (name, path); the name becomes the URL path ``rtsp://host:port/NAME``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path or "/" in name:
        raise argparse.ArgumentTypeError(
            f"mount {text!r} is not NAME=PATH with a NAME free of '/' (e.g. cam1=/tmp/cam1.mp4)"
        )
    file = Path(path)
    if not file.is_file():
        raise argparse.ArgumentTypeError(f"mount {text!r}: {file} is not a file")
    return name, file


def missing_elements() -> list[str]:
    """GStreamer elements of LAUNCH that this machine lacks (each comes from a Debian package)."""
    needed = {
        "filesrc": "gstreamer1.0 core",
        "qtdemux": "gstreamer1.0-plugins-good",
        "h264parse": "gstreamer1.0-plugins-bad",
        "rtph264pay": "gstreamer1.0-plugins-good",
    }
    return [
        f"{name} ({package})"
        for name, package in needed.items()
        if Gst.ElementFactory.find(name) is None
    ]


def launch_line(path: Path) -> str:
    # Quoted so spaces in a temporary directory do not split the launch line.
    return LAUNCH.format(location='"' + str(path).replace('"', '\\"') + '"')


def loop_forever(media: GstRtspServer.RTSPMedia) -> None:
    """Swallow the file's EOS and seek back to 0, so clients see an endless camera.

    Without this the shared media ends after one pass and every client gets EOS.
    The seek runs from the main loop: a flushing seek from inside the streaming
    thread that carries the EOS would wait on that very thread.
    """
    bin_ = media.get_element()
    payloader = bin_.get_by_name("pay0")

    def rewind() -> bool:
        pipeline = bin_.get_parent() or bin_
        pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        return False  # one-shot idle callback

    def on_event(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.EOS:
            GLib.idle_add(rewind)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    payloader.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)


def quit_when_stdin_closes(loop: GLib.MainLoop) -> None:
    """End the server when stdin reaches EOF: the test process that holds the other end of
    the pipe died without killing us, and an orphan server would hold its port forever."""

    def on_input(fd: int, _condition: GLib.IOCondition) -> bool:
        if os.read(fd, 4096):
            return True  # keep watching; input is ignored
        loop.quit()
        return False

    GLib.io_add_watch(
        sys.stdin.fileno(),
        GLib.PRIORITY_DEFAULT,
        GLib.IOCondition.IN | GLib.IOCondition.HUP,
        on_input,
    )


def build_server(port: int, mounts: list[tuple[str, Path]]) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    for name, path in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(path))
        # One pipeline per mount shared by all clients, like a real camera.
        factory.set_shared(True)
        factory.connect("media-configure", lambda _factory, media: loop_forever(media))
        server.get_mount_points().add_factory(f"/{name}", factory)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that every GStreamer element is installed; exit 0 if so",
    )
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1")
    parser.add_argument(
        "--mount",
        type=parse_mount,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="serve PATH (H.264 MP4) at /NAME; repeatable",
    )
    args = parser.parse_args(argv)
    Gst.init(None)
    if args.check:
        missing = missing_elements()
        print("missing GStreamer elements: " + ", ".join(missing) if missing else "ok", flush=True)
        return 1 if missing else 0
    if args.port is None or not 0 < args.port < 65536:
        parser.error(f"--port {args.port} is required and must be in 1..65535")
    if not args.mount:
        parser.error("at least one --mount NAME=PATH is required")
    names = [name for name, _ in args.mount]
    if len(set(names)) != len(names):
        parser.error(f"mount names repeat: {names}")

    server = build_server(args.port, args.mount)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    # SIGTERM ends the main loop cleanly; SIGKILL (tests' "camera died") needs no handler.
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    quit_when_stdin_closes(loop)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

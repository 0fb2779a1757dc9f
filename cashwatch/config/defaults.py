"""The config written on first run: synthetic demo cameras that need nothing but pip."""

from __future__ import annotations

from pathlib import Path

from cashwatch.util.files import atomic_write_text

DEMO_CONFIG = """\
# CashWatch configuration. Edit while the manager runs: it reloads this file.
# Every key is documented in docs/configuration.md.
# The demo cameras below synthesise video from images shipped with Ultralytics
# (docs/demo.md). Each scene loops every 20-30 s; the longer cooldown and shorter
# clips keep a 2-core machine from spending most of its time encoding demo clips.

[model]
backend = "auto"
imgsz = 640

# The demo counter's till: the manager rings up most of its hand-overs itself and
# "forgets" the first and every third, so the Events page shows both outcomes; and it
# opens the drawer with a no-sale while nobody is at the counter, a till exception
# (docs/till.md). A real till sends its transactions to till/inbox/ as CSV files. The
# demo's clocks agree (no skew) and its refund window is short, to fit the scene's
# 12 s with the cashier alone: for a real till, delete the last three lines (defaults:
# 30 s skew, a refund judged from 30 s before to 10 s after).
[till]
demo_tills = ["demo-till"]
window_after_s = 60.0
max_skew_s = 0.0
exception_before_s = 4.0
exception_after_s = 2.0

# Prometheus metrics of the manager at http://127.0.0.1:9108/metrics (docs/monitoring.md).
[metrics]
host = "127.0.0.1"
port = 9108

# Alerts to people who are not watching the dashboard (docs/alerts.md), e.g.:
# [[alerts]]
# name = "front-desk-webhook"
# kind = "webhook"                  # webhook | mqtt | email
# url = "http://127.0.0.1:9000/hook"
# types = ["violence", "fire", "camera_down"]

[[cameras]]
id = "demo-counter"
name = "Demo: cash hand-over at the counter"
site = "demo-lobby"
source = "demo:handover"
till_id = "demo-till"
cooldown_s = 45.0
clip = { pre_seconds = 10.0, post_seconds = 5.0 }

[cameras.zones]
cashier = [[0.55, 0.0], [1.0, 0.0], [1.0, 1.0], [0.55, 1.0]]
counter = [[0.3, 0.2], [0.75, 0.2], [0.75, 0.9], [0.3, 0.9]]

# The scuffle is photographed people moved by code: the video verifier of the default
# "verified" method learned fights from real footage, so this camera runs the pose method
# (`[cameras.detection.violence] method` in docs/configuration.md).
[[cameras]]
id = "demo-scuffle"
name = "Demo: scuffle in the lobby"
site = "demo-lobby"
source = "demo:scuffle"
cooldown_s = 45.0
clip = { pre_seconds = 10.0, post_seconds = 5.0 }
detection = { violence = { method = "pose" } }

[[cameras]]
id = "demo-fire"
name = "Demo: fire in the back office"
site = "demo-office"
source = "demo:fire"
cooldown_s = 45.0
clip = { pre_seconds = 10.0, post_seconds = 5.0 }

# Someone covers this camera with a cloth for 14 s of every 40. Nobody to watch for in the
# cash office scene, so no pose model here: only the fire and tamper rules.
[[cameras]]
id = "demo-cash-office"
name = "Demo: cash office camera covered"
site = "demo-office"
source = "demo:tamper"
cooldown_s = 45.0
clip = { pre_seconds = 10.0, post_seconds = 5.0 }
detection = { cash = { enabled = false }, violence = { enabled = false } }
"""


def write_demo_config(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, DEMO_CONFIG)

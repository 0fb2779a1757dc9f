"""Synthetic demo cameras (`demo:<scene>` sources) built from photos shipped with Ultralytics."""

from cashwatch.demo.source import DemoCapture, open_demo

__all__ = ["DemoCapture", "open_demo"]

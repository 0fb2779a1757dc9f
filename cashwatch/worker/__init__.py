"""One camera's process: capture, live frame, processing hook, events."""

"""Event rules: pure functions and small stateful classes over poses and frames, no I/O.

Each rule (`cashwatch.core.rule.Rule`) is fed one `Observation` a sampled frame and
returns the events it raises on it; the pipeline runs the list in `registry` alike and
applies the per-type cooldown and snapshots. Reading the packaged violence model's
parameters (`violence_model.json`, package data) is the one file a rule opens.
"""

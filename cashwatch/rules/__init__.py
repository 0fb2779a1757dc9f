"""Event rules: pure functions and small stateful classes over poses and frames, no I/O.

Each rule is fed one detection at a time (`update(...)`) and returns the events it
raises on that detection; the pipeline applies the per-type cooldown and snapshots.
"""

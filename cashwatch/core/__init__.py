"""The bottom layer: the data every package passes around, and nothing that does I/O.

Poses and boxes (`poses`, `tracks`), geometry and zones (`geometry`), detected events
(`events`), how long events last (`spans`), the worker's contracts (`hooks`), the
sampling arithmetic (`sampling`), and what a rule is fed and how it holds evidence
(`observation`, `rule`, `sustained`). `rules` and `detect` both build on it; it imports
nothing else of CashWatch except `cashwatch.config` (the settings the rules read). The
layering is checked by import-linter (`[tool.importlinter]` in pyproject.toml).
"""

"""Shared memory between the manager, its workers and the readers (dashboard, CLI).

One status table for the whole installation and one frame slot per camera. Names
derive from the data_dir so several installations can run side by side.
"""

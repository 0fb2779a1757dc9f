"""`make bench`: CashWatch against a re-implementation of the seed design, on this machine.

Run with `python -m bench.run --quick` (smoke check, ~3 min) or `--full` (~15 min).
"""

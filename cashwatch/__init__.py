"""CashWatch: multi-camera CCTV analytics for front desks and cashier counters."""

__version__ = "0.1.0"

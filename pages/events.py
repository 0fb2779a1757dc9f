"""Events: browse, watch and review what the detectors raised.

The code is in cashwatch.dashboard.views.events.
"""

from cashwatch.dashboard.views.events import render

render()

"""System: the machine, the workers, restarts over time, disk and the manager's log.

The code is in cashwatch.dashboard.views.system.
"""

from cashwatch.dashboard.views.system import render

render()

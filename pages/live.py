"""Live: the latest frame of each watched camera, ~5 times a second.

The code is in cashwatch.dashboard.views.live.
"""

from cashwatch.dashboard.views.live import render

render()

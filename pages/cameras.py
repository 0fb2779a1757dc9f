"""Cameras (admins): add, edit and remove cameras, test sources, draw zones.

The code is in cashwatch.dashboard.views.cameras.
"""

from cashwatch.dashboard.views.cameras import render

render()

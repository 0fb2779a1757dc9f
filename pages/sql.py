"""SQL: read-only queries over the history for analysts.

The code is in cashwatch.dashboard.views.sql.
"""

from cashwatch.dashboard.views.sql import render

render()

"""CashWatch dashboard: `streamlit run app.py` (or `cashwatch dashboard`).

The router and the Overview page; their code is in cashwatch.dashboard.navigation and
cashwatch.dashboard.views.overview.
"""

from cashwatch.dashboard.navigation import run

run()

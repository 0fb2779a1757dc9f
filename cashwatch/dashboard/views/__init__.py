"""What each dashboard page draws, one module per page, each with a `render()`.

The files in the repository's pages/ folder (and app.py, for Overview) only call these:
Streamlit's multipage navigation is built from those files, so they stay where they are,
while the code ships inside the package where it is typed, linted and importable.
"""

"""The Streamlit dashboard's building blocks; the pages (app.py, pages/) put them together."""

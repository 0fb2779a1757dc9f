"""The manager: supervises one worker process per camera and owns DuckDB."""

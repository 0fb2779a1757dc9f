"""Evidence around an event: the pre-event buffer, clips and snapshots."""

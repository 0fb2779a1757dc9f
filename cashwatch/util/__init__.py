"""Small helpers shared by several parts."""

"""Finding people and their keypoints, and turning them into events."""

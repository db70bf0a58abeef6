"""vision_bench."""

"""Measuring speed and cost side by side."""

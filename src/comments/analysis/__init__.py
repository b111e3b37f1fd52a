"""Offline, deterministic analysis: campaigns, themes, stance, commenters."""

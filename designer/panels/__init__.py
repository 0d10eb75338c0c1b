"""Dockable panels: palette, inspector, summary, code preview, activation functions."""

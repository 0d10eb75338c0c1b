"""pyqtgraph views. Every item is created once and updated with setData (DESIGN.md §2.7)."""

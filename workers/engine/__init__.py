"""The matching engine: plain Python, no Django. Usable alone (CLI, notebook)."""

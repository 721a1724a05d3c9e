"""The copy-detection descriptor: its data set (dataset.py, packages.py)."""

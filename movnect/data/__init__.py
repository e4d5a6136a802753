"""Data: Human3.6M release ingestion (h36m.py), the synthetic release (synthetic*.py), the
training Dataset (dataset.py) and its augmentation (transforms.py). Schema: docs/data.md."""

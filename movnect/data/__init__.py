"""Data: Human3.6M release ingestion (h36m_release.py, h36m.py), the synthetic release
(synthetic/; synthetic/coco.py for a COCO-format 2D set), the training Dataset (dataset.py),
its augmentation (transforms.py) and 2D-only COCO / MPII data (keypoints2d.py). Schema and
conventions: docs/data.md."""

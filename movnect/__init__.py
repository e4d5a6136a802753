"""MoVNect: real-time monocular 3D human pose for phones."""
__version__ = "0.1.0"

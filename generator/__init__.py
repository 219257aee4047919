"""Compile portfolio packs from structured content into fillable PDF and Word files."""

from pathlib import Path

__version__ = "0.1.0"

#: The content shipped with the tool (here, at the floor, so a reader can name it without loading content).
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

"""tiket's mail pipeline: intake, storage, lifecycle, mail out, daemon and CLI."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds pipeline/, templates/ and config/ (the checkout, or site-packages)."""

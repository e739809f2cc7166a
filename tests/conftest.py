"""Shared pytest setup for every Python suite under tests/: makes tests/support importable
(`import pharos`, `from target_server import TargetServer`, `from dns_server import DnsServer`)."""

import sys
from pathlib import Path

SUPPORT_DIR = str(Path(__file__).resolve().parent / "support")
if SUPPORT_DIR not in sys.path:
    sys.path.insert(0, SUPPORT_DIR)

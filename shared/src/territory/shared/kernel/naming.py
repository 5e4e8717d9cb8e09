"""Who published an event: `<service>@<host>:<pid>`."""

from __future__ import annotations

import os
import socket


def producer_name(service: str) -> str:
    return f"{service}@{socket.gethostname()}:{os.getpid()}"

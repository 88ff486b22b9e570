"""The one place TensorFlow is imported, so its start-up is configured once per process.

TensorFlow's C++ runtime writes several lines to the process's stderr before its logging
is configured (oneDNN notices, missing CUDA drivers) — noise in every CLI call. They can
only be silenced at the file-descriptor level, while importing and initializing devices.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

_lock = threading.Lock()
_tf: ModuleType | None = None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    if os.environ.get("TUNER_TF_VERBOSE"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured stderr in tests, no real fd
        fd = 2
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def tensorflow() -> ModuleType:
    """Import TensorFlow (once), with its start-up chatter muted."""
    global _tf
    if _tf is not None:
        return _tf
    with _lock:
        if _tf is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            with _quiet_stderr():
                import tensorflow as tf

                tf.config.list_physical_devices()
                tf.get_logger().setLevel("ERROR")
            _tf = tf
    return _tf

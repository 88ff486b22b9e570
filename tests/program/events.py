"""Event files as Keras's TensorBoard callback and `tf.summary` write them, written here
with TensorBoard's own record writer (its EventFileWriter would import TensorFlow):
scalars as one-element tensors (TF 2) or as `simple_value` (TF 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util.tensor_util import make_tensor_proto


class Events:
    def __init__(self, folder: Path, name: str = "events.out.tfevents.1.host.1.v2"):
        folder.mkdir(parents=True, exist_ok=True)
        self.file = (folder / name).open("ab")
        self.writer = RecordWriter(self.file)

    def scalar(self, tag: str, step: int, value: float, *, tensor: bool = True) -> None:
        if tensor:
            proto = make_tensor_proto(np.array(value, dtype=np.float32))
            summary = Summary(value=[Summary.Value(tag=tag, tensor=proto)])
        else:
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        self.writer.write(Event(step=step, summary=summary).SerializeToString())
        self.writer.flush()

    def close(self) -> None:
        self.file.close()

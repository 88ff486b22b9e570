"""Metrics read from the TensorBoard event files a program writes under its trial folder,
as it writes them — the original practice's own record of a run (`tf.summary` scalars,
Keras's `TensorBoard` callback).

An event file is a TFRecord file of `Event` protos; each poll reads the records
appended since the last one (a record half-written is read at the next poll), with
TensorBoard's proto module and numpy only (no TensorFlow in the trial's process).

Names: Keras's callback writes `epoch_<metric>` under `train/` and `validation/`:
`validation/…/epoch_auc` is `val_auc`, `train/…/epoch_loss` is `loss`. Any other tag is
its own name (under a `validation` folder, `val_` + it). Steps: Keras counts its epochs
from 0 (its `epoch_` tags are shifted by one); a program's own scalars should use the
epoch counted from 1 as their step (a step 0 among them shifts them by one too).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

Scalar = tuple[str, int, float]  # (metric name, epoch, value)

_HEADER = struct.Struct("<QI")  # a record's length and its length's masked CRC


@dataclass
class EventTail:
    root: Path  # the folder searched (recursively) for event files
    offsets: dict[Path, int] = field(default_factory=dict)
    zero: bool = False  # a program's own scalar at step 0 was seen: its steps shift by one

    def poll(self) -> list[Scalar]:
        """The scalars written since the last poll, in file order."""
        if not self.root.is_dir():
            return []
        found: list[Scalar] = []
        for path in sorted(self.root.rglob("events.out.tfevents.*")):
            found += self._read(path)
        return found

    def _read(self, path: Path) -> list[Scalar]:
        start = self.offsets.get(path, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            return []
        out: list[Scalar] = []
        at = 0
        while at + _HEADER.size <= len(data):
            (length, _) = _HEADER.unpack_from(data, at)
            end = at + _HEADER.size + length + 4  # the data, then its masked CRC
            if end > len(data):
                break  # half-written: read again at the next poll
            out += self._scalars(path, data[at + _HEADER.size : at + _HEADER.size + length])
            at = end
        self.offsets[path] = start + at
        return out

    def _scalars(self, path: Path, record: bytes) -> list[Scalar]:
        from tensorboard.compat.proto.event_pb2 import Event

        try:
            event = Event.FromString(record)
        except Exception:  # (a record that is not an Event: skipped)
            return []
        if not event.HasField("summary"):
            return []
        validation = "validation" in path.relative_to(self.root).parts[:-1]
        found = []
        for value in event.summary.value:
            number = _number(value)
            if number is None:
                continue
            tag = value.tag.rsplit("/", 1)[-1] if value.tag.startswith("epoch_") else value.tag
            keras = tag.startswith("epoch_")
            name = tag.removeprefix("epoch_") if keras else tag
            if validation and not name.startswith("val_"):
                name = f"val_{name}"
            step = int(event.step)
            if not keras and step == 0:
                self.zero = True
            epoch = step + 1 if keras or self.zero else step
            if epoch >= 1:
                found.append((name, epoch, number))
        return found


def _number(value: object) -> float | None:
    """A summary value's scalar: `simple_value` (TF 1) or a one-element tensor (TF 2)."""
    if value.HasField("simple_value"):  # type: ignore[attr-defined]
        return float(value.simple_value)  # type: ignore[attr-defined]
    if value.HasField("tensor"):  # type: ignore[attr-defined]
        from tensorboard.util.tensor_util import make_ndarray

        try:
            array = make_ndarray(value.tensor)  # type: ignore[attr-defined]
        except Exception:
            return None
        if array.size == 1 and array.dtype.kind in "fiub":
            return float(array.reshape(()))
    return None

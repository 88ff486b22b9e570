"""Column names → names Keras and TensorFlow accept, and back.

Users' CSV headers hold anything (`od280/od315_of_diluted_wines`, `sepal length (cm)`,
`Größe`, `2nd`), but a Keras layer name may not contain `/`, and a SavedModel signature
turns every input key into a Python identifier (TensorFlow's `sanitize_arg_name`). So
inside the model every feature has a *key*: an ASCII identifier derived from its name,
the same for the same list of names every time, unique even when two names clean to the
same text. Users never see keys: the reader, `tune predict` and the MLflow model take
the original names and map them (the export's `assets.extra/tuner.json` holds the map).

Imports nothing heavy: `tune predict` and the pyfunc wrapper's callers can use it freely.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable

_VALID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_OTHER = re.compile(r"[^A-Za-z0-9]+")


def _valid(name: str) -> bool:
    """A key as is: an ASCII identifier that is not a Python keyword (a signature's
    arguments are Python parameters: survival's `lambda` column is refused by TensorFlow
    with "'lambda' is not a valid parameter name")."""
    return bool(_VALID.fullmatch(name)) and not keyword.iskeyword(name)


def clean(name: str) -> str:
    """An ASCII identifier close to `name`: accents dropped (é → e), every run of other
    characters that are not ASCII letters or digits → one `_`, and a leading `f_` when it
    would not start with a letter, a trailing `_` after a Python keyword (`lambda_`). A
    valid name is its own key."""
    if _valid(name):
        return name
    if keyword.iskeyword(name):
        return f"{name}_"
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = _OTHER.sub("_", text).strip("_")
    if not text:
        return "feature"
    return text if text[0].isalpha() else f"f_{text}"


def feature_keys(names: Iterable[str]) -> dict[str, str]:
    """name → key for a model's features, in order. Names that are valid keys keep
    themselves; the others are cleaned, and a cleaned name already taken gets the first
    free suffix `_2`, `_3`, … (so `a b` and `a_b` → `a_b_2` and `a_b`)."""
    names = list(names)
    keys: dict[str, str] = {n: n for n in names if _valid(n)}
    taken = set(keys.values())
    for name in names:
        if name in keys:
            continue
        base = clean(name)
        key, n = base, 2
        while key in taken:
            key, n = f"{base}_{n}", n + 1
        keys[name] = key
        taken.add(key)
    return {n: keys[n] for n in names}


class LayerNames:
    """Unique layer names for one model build: a name already used (a feature called
    `value` or `logits` meets the layer of that name) gets the first free `_2`, `_3`, ….
    The build is deterministic, so a rebuilt model gets the same names."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def __call__(self, name: str) -> str:
        unique, n = name, 2
        while unique in self._used:
            unique, n = f"{name}_{n}", n + 1
        self._used.add(unique)
        return unique

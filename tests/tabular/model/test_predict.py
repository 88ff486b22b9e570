"""`tune predict`'s input checks, without a trained model: an export folder is faked
(its tuner.json describes a model; its SavedModel is never loaded), since every bad input
must be refused before TensorFlow is imported. A real model predicts in
test_real_data.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write
from tuner.errors import DataError
from tuner.tabular.data.convert import ConvertOptions, convert
from tuner.tabular.data.schema import Schema
from tuner.tabular.model.export import INFO, output_name, signature_keys
from tuner.tabular.model.predict import read_csv_input

# the campaign's file, written the European way: ';' between values, decimal commas
EURO = "x1;x2;cat;label\n1,229;4,803;c;yes\n0,5;1,5;d;no\n2,25;0,75;c;yes\n3,5;2;d;no\n"


def fake_export(folder: Path, schema: Schema) -> Path:
    """A `tune train --out` folder as predict reads it: model/saved_model.pb (empty: it
    is loaded only after every input check) and model/assets.extra/tuner.json."""
    model = folder / "model"
    (model / INFO).parent.mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"")
    info = {
        "signature": "serve",
        "inputs": list(signature_keys(schema)),
        "signature_keys": signature_keys(schema),
        "output": output_name(schema.label.kind),
        "task": schema.label.kind,
        "classes": list(schema.label.classes or []),
        "label": schema.label.name,
        "schema": schema.to_json(),
        "config": {},
    }
    (model / INFO).write_text(json.dumps(info))
    return folder


@pytest.fixture
def euro_model(tmp_path: Path) -> tuple[Path, Schema]:
    src = write(tmp_path / "euro.csv", EURO)
    schema = convert(src, tmp_path / "ds", ConvertOptions(decimal_comma=True))
    assert schema.csv is not None and (schema.csv.delimiter, schema.csv.decimal_comma) == (
        ";",
        True,
    )
    return fake_export(tmp_path / "run", schema), schema


def test_a_csv_is_read_as_the_data_sets_csv_was(euro_model, tmp_path: Path) -> None:
    _, schema = euro_model
    table = read_csv_input(write(tmp_path / "p.csv", EURO), schema)
    np.testing.assert_array_equal(table.numeric["x1"], [1.229, 0.5, 2.25, 3.5])
    assert table.categorical["cat"].tolist() == ["c", "d", "c", "d"]
    # a comma file of the same columns (no label) is found by the model's columns
    comma = read_csv_input(write(tmp_path / "c.csv", "cat,x2,x1\nc,1.5,2\n"), schema)
    assert comma.delimiter == "," and comma.numeric["x1"].tolist() == [2.0]


def test_a_wrongly_typed_column_says_the_schema_not_a_convert_option(
    euro_model, tmp_path: Path
) -> None:
    _, schema = euro_model
    bad = write(tmp_path / "bad.csv", "x1;x2;cat\n1,5;high;c\n")
    with pytest.raises(DataError) as err:
        read_csv_input(bad, schema)
    assert str(err.value) == (
        f"{bad}:2: column 'x2': 'high' is not a number ('x2' is numeric in the model's data "
        "set: the file must hold a number there (? or NA for a missing value))"
    )


PROBE = r"""
import json, sys, time
from tuner.cli.app import main
codes, seconds = [], []
for a in sys.argv[1:]:
    start = time.process_time()
    codes.append(main(json.loads(a)))
    seconds.append(time.process_time() - start)
print(json.dumps({"codes": codes, "seconds": seconds,
                  "heavy": [m for m in ("tensorflow", "keras") if m in sys.modules]}))
"""


def test_bad_input_is_refused_before_tensorflow(euro_model, tmp_path: Path) -> None:
    """The README's promise for `tune predict` (it took 16-24 s: TensorFlow first)."""
    model, _ = euro_model
    typed = write(tmp_path / "typed.csv", "x1;x2;cat\n1,5;high;c\n")
    missing = write(tmp_path / "missing.csv", "x1;cat\n1,5;c\n")
    one = write(tmp_path / "one.csv", "x1|x2|cat\n1|2|c\n")
    text = write(tmp_path / "rows.txt", "x1;x2;cat\n1;2;c\n")
    empty_model = tmp_path / "empty_model"
    (empty_model / "model").mkdir(parents=True)
    (empty_model / "model" / "saved_model.pb").write_bytes(b"")
    other = write(
        tmp_path / "o.csv", "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    )
    convert(other, tmp_path / "other", ConvertOptions(split=0.5))
    cases = {
        "typed": (["predict", model, typed], f"{typed}:2: column 'x2': 'high' is not a number"),
        "missing": (["predict", model, missing], "1 columns of the training data are missing: x2"),
        "one": (["predict", model, one, "--delimiter", ";"], "one column found ('x1|x2|cat')"),
        "no data": (["predict", model, tmp_path / "nope.csv"], "no such file or directory"),
        "no model": (["predict", tmp_path / "nope", typed], "no exported model here"),
        "no info": (["predict", empty_model, typed], "not a model exported by tuner"),
        "not records": (["predict", model, text], "not a TFRecord file"),
        "other data set": (["predict", model, tmp_path / "other"], "has no feature 'x1'"),
        "options": (["predict", model, text, "--delimiter", ";"], "read a CSV file"),
    }
    args = [json.dumps([str(a) for a in argv]) for argv, _ in cases.values()]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    errors = done.stderr.strip().splitlines()
    assert report["codes"] == [2] * len(cases), done.stderr
    assert report["heavy"] == [], report
    assert len(errors) == len(cases) and "Traceback" not in done.stderr
    for (name, (_, expected)), line in zip(cases.items(), errors, strict=True):
        assert line.startswith("tune: error: ") and expected in line, (name, line)
        assert "--categorical" not in line and "--columns" not in line, (name, line)
    # each took 16-24 s (TensorFlow first); now well under a second on an idle machine
    # (the first pays for numpy and the readers), bounded loosely for a loaded one
    assert max(report["seconds"]) < 2.0, report


@pytest.mark.slow
def test_an_export_tensorflow_cannot_load_is_one_line(euro_model, tmp_path: Path, cli) -> None:
    """Past the input checks, TensorFlow loads the SavedModel: a broken one (here the
    faked, empty saved_model.pb) is a located error, not a traceback."""
    model, _ = euro_model
    code, _, err = cli("predict", model, write(tmp_path / "ok.csv", "x1;x2;cat\n1,5;2;c\n"))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{model / 'model'}: the SavedModel cannot be loaded" in err

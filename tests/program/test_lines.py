"""The output rule of a program's metrics (`tuner.program.lines`), on the lines real
programs print: `epoch=N name=value` lines, Keras's verbose=2 and verbose=1 output
(progress bars redrawn with carriage returns), and a `pattern:` of the user's."""

from __future__ import annotations

from tuner.program.lines import LineParser


def feed(parser: LineParser, text: str) -> list:
    out = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out += parser.feed(line)
    return out + parser.flush()


def test_epoch_lines_with_equals_or_colons() -> None:
    parser = LineParser(["val_auc", "val_loss"])
    text = "loading data\nepoch=1 val_auc=0.81 val_loss=0.5\nepoch: 2, val_auc: 0.86, other: 3\n"
    assert feed(parser, text) == [(1, {"val_auc": 0.81, "val_loss": 0.5}), (2, {"val_auc": 0.86})]


def test_a_line_without_an_epoch_or_a_declared_metric_is_the_programs_own() -> None:
    parser = LineParser(["val_auc"])
    text = "best val_auc=0.93\nepoch=3 lr=0.1\nval_auc_history=0.5 epoch=4\nepoch=5 val_auc=nan\n"
    (only,) = feed(parser, text)
    assert only[0] == 5 and only[1]["val_auc"] != only[1]["val_auc"]  # NaN read as NaN


def test_keras_verbose_2_needs_nothing_new() -> None:
    parser = LineParser(["val_auc", "loss"])
    text = (
        "Epoch 1/3\n"
        "7/7 - 3s - 386ms/step - accuracy: 0.8548 - auc: 0.9348 - loss: 0.3408 - "
        "val_accuracy: 0.9366 - val_auc: 0.9893 - val_loss: 0.1277\n"
        "Epoch 2/3\n"
        "7/7 - 0s - 28ms/step - accuracy: 0.9649 - auc: 0.9917 - loss: 0.0905 - "
        "val_accuracy: 0.9648 - val_auc: 0.9985 - val_loss: 0.0626\n"
        "model exported\n"
    )
    assert feed(parser, text) == [
        (1, {"loss": 0.3408, "val_auc": 0.9893}),
        (2, {"loss": 0.0905, "val_auc": 0.9985}),
    ]


def test_a_keras_progress_bar_is_read_at_its_last_update_with_validation() -> None:
    parser = LineParser(["val_auc", "loss"])
    bar = (
        "Epoch 1/2\n"
        "\r1/7 ━━━━━━━━━━━━━━━━━━━━ 3s 500ms/step - auc: 0.5 - loss: 0.7"
        "\r4/7 ━━━━━━━━━━━━━━━━━━━━ 0s 20ms/step - auc: 0.8 - loss: 0.5"
        "\r7/7 ━━━━━━━━━━━━━━━━━━━━ 0s 20ms/step - auc: 0.9 - loss: 0.4"
        "\r7/7 ━━━━━━━━━━━━━━━━━━━━ 1s 90ms/step - auc: 0.9 - loss: 0.4 - val_auc: 0.95\n"
        "Epoch 2/2\n"
        "\r7/7 ━━━━━━━━━━━━━━━━━━━━ 0s 20ms/step - auc: 0.95 - loss: 0.3 - val_auc: 0.97\n"
    )
    assert feed(parser, bar) == [
        (1, {"loss": 0.4, "val_auc": 0.95}),
        (2, {"loss": 0.3, "val_auc": 0.97}),
    ]


def test_an_epoch_is_out_as_soon_as_the_next_epoch_or_line_begins() -> None:
    parser = LineParser(["val_auc"])
    assert parser.feed("Epoch 1/2") == []
    assert parser.feed("7/7 - 1s - val_auc: 0.9") == []
    assert parser.feed("Epoch 2/2") == [(1, {"val_auc": 0.9})]


def test_a_pattern_replaces_the_rule() -> None:
    parser = LineParser(["auc"], pattern=r"step (?P<epoch>\d+): AUC=(?P<auc>[\d.]+)")
    assert feed(parser, "step 1: AUC=0.7 | step 2: AUC=0.8\nepoch=3 auc=0.9\n") == [
        (1, {"auc": 0.7}),
        (2, {"auc": 0.8}),
    ]
    numbered = LineParser(["auc"], pattern=r"AUC (?P<auc>\S+)")
    assert feed(numbered, "AUC 0.7\nAUC x\n") == [(None, {"auc": 0.7})]

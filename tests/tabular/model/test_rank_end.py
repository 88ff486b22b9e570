"""How a distributed worker ended, in words (tuner/tabular/model/rank_end.py): the signal
that killed it by name, and the line of its output that says why — never TensorFlow's
start-up noise (issue 25: a SIGKILLed worker was reported with `failed call to cuInit`).
The logs below are what two real workers wrote when worker 1 was SIGKILLed mid-epoch
(tests/tabular/model/test_distributed.py kills one), shortened."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tuner.tabular.model import rank_end

STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796681549.317017   21127 port.cc:153] oneDNN custom operations are on. You may see \
slightly different numerical results due to floating-point round-off errors from different \
computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796681549.317320   21127 cudart_stub.cc:31] Could not find cuda drivers on your \
machine, GPU will not be used.
I0000 00:00:1796681549.318000   21127 cpu_feature_guard.cc:210] This TensorFlow binary is \
optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow \
with the appropriate compiler flags.
E0000 00:00:1796681560.334548   21127 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA \
error: Failed call to cuInit: UNKNOWN ERROR (303)
"""

# the worker whose peer was killed: its collective fails, Python's traceback says so
PEER = (
    STARTUP
    + """\
E0000 00:00:1796681568.163318   21345 base_collective_executor.cc:252] \
BaseCollectiveExecutor::StartAbort UNAVAILABLE: failed to connect to all addresses
Additional GRPC error information from remote target /job:worker/replica:0/task:1 while calling \
/tensorflow.WorkerService/RecvBuf:
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/work/tuner/tabular/model/distributed.py", line 338, in _worker_main
    train_worker(
tensorflow.python.framework.errors_impl.UnavailableError: Graph execution error:

Detected at node while/main/CollectiveReduceV2 defined at (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main

Collective ops is aborted by: failed to connect to all addresses
The error could be from a previous operation. Restart your program to reset.
\t [[{{node while/main/CollectiveReduceV2}}]] [Op:__inference_train_steps_1684]
"""
)


def test_start_up_noise_is_no_reason() -> None:
    assert rank_end.reason(STARTUP) is None
    assert rank_end.reason("") is None


def test_a_traceback_gives_its_exception_without_the_module_path() -> None:
    assert rank_end.reason(PEER) == "UnavailableError: Graph execution error:"
    chained = "Traceback (most recent call last):\n  x\nKeyError: 'a'\n\nDuring handling…\n"
    chained += "Traceback (most recent call last):\n  File 'y'\nMemoryError\n"
    assert rank_end.reason(chained) == "MemoryError"


@pytest.mark.parametrize(
    ("after", "said"),
    [
        # the last line of its own after the noise
        ("tune: out of disk space\n", "tune: out of disk space"),
        # TensorFlow's fatal check (it then aborts): the reason
        (
            "F0000 00:00:1.5   7 gpu_device.cc:12] Check failed: ok\n",
            "F0000 00:00:1.5   7 gpu_device.cc:12] Check failed: ok",
        ),
        # an error logged later than start-up is one
        (
            "E0000 00:00:1.5   7 ring_alg.cc:291] Aborting RingReduce with UNAVAILABLE\n",
            "E0000 00:00:1.5   7 ring_alg.cc:291] Aborting RingReduce with UNAVAILABLE",
        ),
        # warnings are not: Python's, TensorFlow's logger, its older C++ log line
        ("/x/keras/layer.py:12: UserWarning: Do not pass input_shape\n  warnings.warn(\n", None),
        ("WARNING:tensorflow:5 out of the last 5 calls triggered tf.function retracing\n", None),
        ("2025-01-02 03:04:05.678901: W tensorflow/core/x.cc:1] slow\n", None),
        ("2025-01-02 03:04:05.678901: E tensorflow/core/x.cc:1] Unable to register cuDNN\n", None),
    ],
)
def test_the_last_meaningful_line_after_the_noise(after: str, said: str | None) -> None:
    assert rank_end.reason(STARTUP + after) == said


def test_a_signal_is_named_and_an_exit_code_said() -> None:
    assert rank_end.how_ended(-signal.SIGKILL) == "was killed by SIGKILL"
    assert rank_end.how_ended(-signal.SIGTERM) == "was killed by SIGTERM"
    assert rank_end.how_ended(-200) == "was killed by signal 200"
    assert rank_end.how_ended(1) == "ended (exit code 1)"
    assert rank_end.how_ended(rank_end.LAUNCHER_LOST).startswith("was lost with its launcher")


def test_describe_reads_the_end_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "1.log"
    log.write_text(STARTUP)
    assert rank_end.describe(-9, log) == "was killed by SIGKILL"
    log.write_text("x" * (2 * rank_end.TAIL_BYTES) + "\n" + PEER)
    said = rank_end.describe(1, log)
    assert said == "ended (exit code 1): UnavailableError: Graph execution error:"
    assert rank_end.describe(1, tmp_path / "missing.log") == "ended (exit code 1)"

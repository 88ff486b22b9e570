"""One sweep across a Ray cluster with its state in PostgreSQL, as on real machines but on
this host: a head node and a worker node (1 CPU each, their own ports, token auth on),
an MLflow tracking server backed by a fresh PostgreSQL database, the Optuna study in
another one, trial folders in a "shared" folder. A password in the storage and tracking
URIs must show up nowhere. Then a driver killed mid-sweep is resumed from another
directory that has no results/ folder.

Everything the test starts runs in its own process group and is stopped by its ids
(never `ray stop`: it would stop every Ray on the host); its databases are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import write

ROOT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT = "127.0.0.1", 5432
PASSWORD = "secret123"  # trust authentication ignores it; it must never be shown

SPACE = """\
name: {name}
objective: tests.cluster:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 3}}
concurrency: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
fixed: {{sleep: {sleep}}}
params:
  x: {{float: [0.1, 1.0]}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ PostgreSQL


def _admin():
    psycopg = pytest.importorskip(
        "psycopg", reason="no PostgreSQL driver: pip install '.[cluster]'"
    )
    try:
        return psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user="postgres",
            dbname="test",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: {exc}")


@dataclass
class Databases:
    role: str
    optuna: str
    mlflow: str

    def url(self, db: str, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{self.role}{secret}@{PG_HOST}:{PG_PORT}/{db}"


@pytest.fixture(scope="module")
def databases() -> Iterator[Databases]:
    """A login role and two fresh databases (Optuna and MLflow each keep an
    `alembic_version` table), dropped at the end."""
    admin = _admin()
    tag = secrets.token_hex(4)
    dbs = Databases(f"tuner_{tag}", f"tuner_optuna_{tag}", f"tuner_mlflow_{tag}")
    admin.execute(f"CREATE ROLE {dbs.role} LOGIN PASSWORD '{PASSWORD}'")
    try:
        for db in (dbs.optuna, dbs.mlflow):
            admin.execute(f"CREATE DATABASE {db} OWNER {dbs.role}")
        yield dbs
    finally:
        for db in (dbs.optuna, dbs.mlflow):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,)
            )
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.execute(f"DROP ROLE IF EXISTS {dbs.role}")
        admin.close()


# ------------------------------------------------------------------ processes


def _stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM the process (a `ray start --block` then drains and stops what it started),
    then SIGKILL its process group if anything is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _kill_leftovers(marker: str) -> None:
    """Our own processes that outlived their group (their command line names our
    temporary folder), by pid."""
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            if int(entry.name) != os.getpid() and marker in (entry / "cmdline").read_text():
                os.kill(int(entry.name), signal.SIGKILL)


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    address: str = ""
    mlflow: str = ""  # the tracking server's base URL
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, args: list[str], log: Path | None = None) -> subprocess.Popen:
        out = open(log or self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def python(self, code: str, timeout: float = 120) -> str:
        """Run Python with the cluster's environment (as a driver would)."""
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


def _ray_node(cluster: Cluster, head: bool, gcs_port: int) -> list[str]:
    args = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
        "--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(100 * 2**20),
        "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
        # two nodes on one host: nothing may share a port (the dashboard agent's default
        # is the same on both; Redis holds 6379, Ray's default head port)
        "--node-manager-port", str(_free_port()),
        "--object-manager-port", str(_free_port()),
        "--dashboard-agent-listen-port", str(_free_port()),
        "--dashboard-agent-grpc-port", str(_free_port()),
        "--metrics-export-port", str(_free_port()),
        "--runtime-env-agent-port", str(_free_port()),
        "--min-worker-port", "0", "--max-worker-port", "0",
    ]  # fmt: skip
    if head:
        return [
            *args, "--head", "--port", str(gcs_port), "--include-dashboard", "false",
            "--ray-client-server-port", str(_free_port()), "--temp-dir", str(cluster.tmp / "ray"),
        ]  # fmt: skip
    return [*args, "--address", f"127.0.0.1:{gcs_port}"]


def _wait_for(
    predicate: Callable[[], bool],
    what: str,
    timeout: float,
    proc: subprocess.Popen,
    log: Callable[[], str],
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"{what}: exited ({proc.returncode}):\n{log()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s:\n{log()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def cluster(databases: Databases) -> Iterator[Cluster]:
    # a short path: Ray's unix sockets live under its temp dir (107-byte limit)
    tmp = Path(tempfile.mkdtemp(prefix="tuner-cl-", dir="/tmp"))
    token = tmp / "ray_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "MLFLOW_TRACKING_URI", "TUNER_FAULT")
    }
    # token authentication on, every process with the same token (never ~/.ray/auth_token)
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token),
        RAY_USAGE_STATS_ENABLED="0",
        # as `tune ui` runs it: no job runner, whose seven huey consumers would load the
        # two cores for the whole module
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    c = Cluster(tmp, env)
    try:
        gcs = _free_port()
        mlflow_port = _free_port()
        artifacts = tmp / "mlartifacts"
        server = c.start(
            "mlflow",
            [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", databases.url(databases.mlflow, password=False),
                "--artifacts-destination", str(artifacts),
                "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
            ],
        )  # fmt: skip
        for name, args in (("head", _ray_node(c, True, gcs)), ("worker", _ray_node(c, False, gcs))):
            node = c.start(name, args)  # the worker after the head is up
            log = partial(c.log, name)
            _wait_for(lambda log=log: "Ray runtime started" in log(), name, 90, node, log)
        c.address = f"127.0.0.1:{gcs}"
        nodes = c.python(
            "import ray, time\n"
            f"ray.init(address='{c.address}', logging_level='ERROR', log_to_driver=False)\n"
            "for _ in range(200):\n"
            "    alive = [n['NodeID'] for n in ray.nodes() if n['Alive']]\n"
            "    if len(alive) == 2: break\n"
            "    time.sleep(0.3)\n"
            "print(len(alive))\n"
        )
        assert nodes.strip() == "2", nodes
        c.mlflow = f"http://127.0.0.1:{mlflow_port}"
        from tuner.tracking.ui import wait_ready

        wait_ready(f"{c.mlflow}/health", 150, server, tmp / "mlflow.log")
        yield c
    finally:
        for name in ("driver", "worker", "head", "mlflow"):
            if name in c.procs:
                _stop(c.procs[name], grace=5 if name == "mlflow" else 30)
        _kill_leftovers(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ helpers


def _tune(c: Cluster, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=c.env,
        capture_output=True,
        text=True,
        timeout=200,
        cwd=cwd,
    )


def _study(dbs: Databases, name: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(
        study_name=name, storage=optuna.storages.RDBStorage(dbs.url(dbs.optuna))
    )


def _runs(c: Cluster, name: str) -> tuple[object, list, list]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(c.mlflow)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, name
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def _no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text, text[max(0, text.find(PASSWORD) - 300) :][:600]


def _recorded(study, runs: list) -> str:
    """Everything the study and MLflow hold as text: attributes, params, tags."""
    trials = study.get_trials(deepcopy=False)
    parts = [json.dumps(study.user_attrs, default=str)]
    parts += [json.dumps([t.user_attrs, t.params], default=str) for t in trials]
    parts += [json.dumps([r.data.params, r.data.tags], default=str) for r in runs]
    return "\n".join(parts)


def _check_resumed(c: Cluster, dbs: Databases, name: str, budget: int, shared: Path) -> None:
    """The resume invariants (tests/sweep/test_resume.py) against PostgreSQL and the
    tracking server."""
    study = _study(dbs, name)
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    assert len(trials) == budget and states.count("COMPLETE") == budget, states
    for t in trials:  # no epoch trained twice: each interrupted trial continued
        log = shared / name / "trials" / str(t.number) / "epochs.log"
        epochs = [int(e) for e in log.read_text().split()]
        assert epochs == [1, 2, 3], (t.number, epochs)
        assert sorted(t.intermediate_values) == [1, 2, 3], (t.number, t.intermediate_values)
    client, parents, children = _runs(c, name)
    assert len(parents) == 1
    numbers = sorted(int(r.data.tags["tuner.trial_number"]) for r in children)
    assert numbers == sorted(t.number for t in trials)  # one child run per trial, no more
    assert all(r.info.status != "RUNNING" for r in [*parents, *children])
    for r in children:
        t = trials[int(r.data.tags["tuner.trial_number"])]
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "score"))
        assert steps == sorted(t.intermediate_values), (t.number, steps)
    _no_password(_recorded(study, [*parents, *children]))


# ------------------------------------------------------------------ masking (quick)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://tuner:secret123@db:5432/x", "postgresql://tuner:***@db:5432/x"),
        ("postgresql+psycopg://tuner:p@ss:w@db/x", "postgresql+psycopg://tuner:***@db/x"),
        ("http://tuner:secret123@host:5000", "http://tuner:***@host:5000"),
        (
            "postgresql://db/x?user=tuner&password=secret123",
            "postgresql://db/x?user=tuner&password=***",
        ),
        ("postgresql://tuner@db/x", "postgresql://tuner@db/x"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("journal:/tmp/a.journal", "journal:/tmp/a.journal"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    from tuner.redact import mask_text, mask_url

    assert mask_url(url) == shown
    assert (
        mask_text(f"error: cannot reach '{url}' (retry)")
        == f"error: cannot reach '{shown}' (retry)"
    )


def test_passwords_are_masked_in_errors_params_and_tags(cli, tmp_path: Path) -> None:
    from tuner.tracking.runs import Tracker, _flatten, _tag_dict

    url = f"postgresql://tuner:{PASSWORD}@127.0.0.1:1/nothing"  # nobody listens on port 1
    code, out, err = cli("status", "x", "--storage", url, "--results", tmp_path)
    assert code == 2 and "tuner:***@127.0.0.1:1" in err, err
    assert PASSWORD not in out + err
    code, out, err = cli("best", "x", "--storage", url, "--results", tmp_path)
    assert code == 2 and PASSWORD not in out + err, err
    with pytest.raises(Exception) as failed:
        Tracker(f"mysql://tuner:{PASSWORD}@127.0.0.1:1/nothing")  # no driver installed
    assert PASSWORD not in str(failed.value) and "tuner:***@" in str(failed.value)
    assert _flatten({"data": {"uri": url}}) == {"data.uri": url.replace(PASSWORD, "***")}
    assert PASSWORD not in json.dumps(_tag_dict({"reason": f"failed on {url}", "l": [url]}))


# ------------------------------------------------------------------ the cluster


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sweep_on_a_two_node_cluster_with_postgresql(
    cluster: Cluster, databases: Databases, tmp_path: Path
) -> None:
    c, dbs = cluster, databases
    storage_url = dbs.url(dbs.optuna)
    # a password in the tracking URI too (the server ignores it; requests sends it)
    tracking = c.mlflow.replace("http://", f"http://{dbs.role}:{PASSWORD}@")
    shared = tmp_path / "shared"  # the trial storage every node reaches
    common = ["--address", c.address, "--storage", storage_url, "--tracking-uri", tracking]

    # 1. a sweep over both nodes
    # trials long enough that the second node's actor (seconds to start under load) joins
    # before the first node's reused actor could run them all
    space = write(tmp_path / "a.yaml", SPACE.format(name="cl_a", trials=4, sleep=1.0))
    done = _tune(
        c,
        "run",
        space,
        *common,
        "--concurrency",
        "2",
        "--trial-storage",
        shared,
        cwd=tmp_path / "driver",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    _no_password(done.stdout, done.stderr)

    study = _study(dbs, "cl_a")
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    nodes = {t.user_attrs["node_id"] for t in trials}
    assert len(nodes) == 2, nodes  # trials ran on both nodes
    for t in trials:  # trial folders in the trial storage, written by the node that ran it
        assert (shared / "cl_a" / "trials" / str(t.number) / "done").is_file()
    _client, parents, children = _runs(c, "cl_a")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(r.data.tags["tuner.trial_number"]) for r in children) == [0, 1, 2, 3]
    assert all(r.info.status == "FINISHED" for r in children)
    assert {r.data.tags["ray_node_id"] for r in children} == nodes
    assert parents[0].data.tags["tuner.storage"] == storage_url.replace(PASSWORD, "***")
    _no_password(_recorded(study, [*parents, *children]))

    # 2. a driver killed mid-sweep, resumed from a folder with no results/
    space = write(tmp_path / "b.yaml", SPACE.format(name="cl_b", trials=6, sleep=0.4))
    out = tmp_path / "driver_b.log"
    proc = c.start(
        "driver",
        [sys.executable, "-m", "tuner", "run", str(space), *common, "--trial-storage", str(shared)],
        log=out,
    )

    def mid_trial() -> bool:  # a trial finished, and one is between two epochs
        with contextlib.suppress(KeyError):
            trials = _study(dbs, "cl_b").get_trials(deepcopy=False)
            return any(t.state.name == "COMPLETE" for t in trials) and any(
                t.state.name == "RUNNING" and 1 <= len(t.intermediate_values) < 3 for t in trials
            )
        return False

    _wait_for(mid_trial, "a trial mid-way", 120, proc, out.read_text)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    _no_password(out.read_text())
    trials = _study(dbs, "cl_b").get_trials(deepcopy=False)
    assert any(t.state.name == "RUNNING" and t.intermediate_values for t in trials)

    elsewhere = tmp_path / "elsewhere"
    done = _tune(c, "resume", "cl_b", *common, "-q", cwd=elsewhere)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    _no_password(done.stdout, done.stderr)
    _check_resumed(c, dbs, "cl_b", 6, shared)

    # 3. status and best from there too: the study, no local results/
    status = _tune(c, "status", "cl_b", "--storage", storage_url, "--json", cwd=tmp_path / "other")
    assert status.returncode == 0, status.stderr[-2000:]
    assert json.loads(status.stdout)["counts"]["done"] == 6
    best = _tune(c, "best", "cl_b", "--storage", storage_url, "--tracking-uri", tracking,
                 "--json", cwd=tmp_path / "other")  # fmt: skip
    assert best.returncode == 0, best.stderr[-2000:]
    row = json.loads(best.stdout)["trials"][0]
    assert row["trial_dir"] == str(shared / "cl_b" / "trials" / str(row["number"]))
    export = tmp_path / "other" / "best"
    done = _tune(c, "best", "cl_b", "--storage", storage_url, "--export", "--out", export,
                 cwd=tmp_path / "other")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (export / "model" / "saved_model.pb").is_file() and (export / "config.yaml").is_file()
    assert json.loads((export / "metrics.json").read_text())["number"] == row["number"]
    _no_password(status.stdout, status.stderr, best.stdout, best.stderr, done.stdout, done.stderr)

    # 4. nor in what Ray keeps: its logs and the drivers' command lines in its job table
    jobs = c.python(
        "import ray\n"
        f"ray.init(address='{c.address}', logging_level='ERROR', log_to_driver=False)\n"
        "print('\\n'.join(j['Entrypoint'] for j in ray._private.state.jobs()))\n"
    )
    assert "tuner run" in jobs or "tuner resume" in jobs, jobs
    _no_password(jobs)
    leaked = subprocess.run(
        ["grep", "-rl", PASSWORD, str(c.tmp / "ray")], capture_output=True, text=True
    )
    assert leaked.stdout == "", leaked.stdout


DISTRIBUTED = """\
name: {name}
objective: tabular
dataset: builtin:breast_cancer
metric: {{name: val_auc, goal: maximize}}
budget: {{trials: 1, max_epochs: 2}}
resources: {{cpu: 1, workers: 2}}
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
fixed: {{model: dnn, batch_size: 64, hidden_units: [16], optimizer: adam}}
params:
  learning_rate: {{float: [1.0e-3, 1.0e-2], log: true}}
"""


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_one_trial_on_two_workers_across_the_two_nodes(
    cluster: Cluster, databases: Databases, tmp_path: Path
) -> None:
    """A trial of 2 workers × 1 CPU on two 1-CPU nodes: Ray spreads its placement group,
    each rank starts on its bundle's node, and rank 0 reports, checkpoints and exports
    into the shared trial storage."""
    c, dbs = cluster, databases
    shared = tmp_path / "shared"
    space = write(tmp_path / "d.yaml", DISTRIBUTED.format(name="cl_d"))
    done = _tune(
        c,
        "run",
        space,
        "--address",
        c.address,
        "--storage",
        dbs.url(dbs.optuna),
        "--tracking-uri",
        c.mlflow,
        "--trial-storage",
        shared,
        cwd=tmp_path / "driver",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (trial,) = _study(dbs, "cl_d").get_trials(deepcopy=False)
    assert trial.state.name == "COMPLETE" and sorted(trial.intermediate_values) == [1, 2]
    folder = shared / "cl_d" / "trials" / str(trial.number)
    nodes = json.loads((folder / "workers" / "nodes.json").read_text())
    assert len(set(nodes)) == 2, nodes  # one rank on each node
    summary = json.loads((folder / "metrics.json").read_text())
    assert (summary["status"], summary["workers"]) == ("complete", 2)
    assert (folder / "model" / "saved_model.pb").is_file()


PROGRAM_SPACE = """\
name: {name}
objective:
  command: python prog.py
  metrics: [score]
metric: {{name: score, goal: maximize}}
budget: {{trials: 2, max_epochs: 3}}
concurrency: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
params:
  x: {{float: [0.1, 1.0]}}
"""

PROGRAM = """\
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--epochs", type=int)
a = p.parse_args()
print("cwd", os.getcwd(), flush=True)
for e in range(1, a.epochs + 1):
    time.sleep(1.0)
    print(f"epoch={e} score={a.x * e}", flush=True)
"""


MODULE = """\
import time
from tuner import objective


@objective(metrics=["score"])
def train(config, report, trial_dir):
    (trial_dir / "module").write_text(__file__)
    for e in range(1, config["epochs"] + 1):
        time.sleep(0.5)
        report(e, {"score": config["x"] * e})
"""


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_program_runs_on_both_nodes_from_the_folder_ray_shipped(
    cluster: Cluster, databases: Databases, tmp_path: Path
) -> None:
    """A program objective on the two-node cluster: each node runs it in its copy of the
    program's folder that Ray's working_dir shipped, not at the driver's path (which
    another machine would not have); a module:function objective beside its space file
    is imported from that copy too."""
    c, dbs = cluster, databases
    project = tmp_path / "project"
    project.mkdir()
    (project / "prog.py").write_text(PROGRAM)
    space = write(project / "space.yaml", PROGRAM_SPACE.format(name="cl_prog"))
    shared = tmp_path / "shared"
    done = _tune(
        c, "run", space, "--address", c.address, "--storage", dbs.url(dbs.optuna),
        "--tracking-uri", c.mlflow, "--trial-storage", shared, cwd=tmp_path / "driver",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    trials = _study(dbs, "cl_prog").get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    assert len({t.user_attrs["node_id"] for t in trials}) == 2
    for t in trials:
        log = (shared / "cl_prog" / "trials" / str(t.number) / "program.log").read_text()
        (cwd,) = [line.split(" ", 1)[1] for line in log.splitlines() if line.startswith("cwd ")]
        assert not Path(cwd).samefile(project) and "working_dir" in cwd, cwd
        assert sorted(t.intermediate_values) == [1, 2, 3]

    # a module:function objective beside its space file: its code shipped the same way
    (project / "mine.py").write_text(MODULE)
    space = write(
        project / "mine.yaml",
        PROGRAM_SPACE.format(name="cl_mine").replace(
            "objective:\n  command: python prog.py\n  metrics: [score]\n", "objective: mine:train\n"
        ),
    )
    done = _tune(
        c, "run", space, "--address", c.address, "--storage", dbs.url(dbs.optuna),
        "--tracking-uri", c.mlflow, "--trial-storage", shared, cwd=tmp_path / "driver",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    trials = _study(dbs, "cl_mine").get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    for t in trials:
        where = (shared / "cl_mine" / "trials" / str(t.number) / "module").read_text()
        assert "working_dir" in where and not where.startswith(str(project)), where

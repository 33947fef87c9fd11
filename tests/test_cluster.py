"""``colorizer colorize --cluster``: the batch on a real Ray cluster on 127.0.0.1.

The test starts a head and a second worker node (one CPU each, loopback only, token
authentication as Ray sets it up by default) and runs the command as a user would. Skipped
when the cluster extra (Ray) is not installed; ``make test`` installs it.
"""

from __future__ import annotations

import csv
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import colorize_command, leftover_temps, make_generator_file, smooth_photo

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")
psutil = pytest.importorskip("psutil")


@dataclass
class LocalCluster:
    address: str
    client: str  # the Ray Client address, ray://...
    env: dict  # what a process needs to join it (its token)
    groups: list[int]  # process groups of the nodes, for the teardown

    def workers(self) -> list:
        """The live ColorizeWorker processes of this cluster."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any("ColorizeWorker" in part for part in proc.info["cmdline"] or []) and any(
                    os.getpgid(parent.pid) in self.groups for parent in proc.parents()
                ):  # a worker runs in a session of its own, under its node's raylet
                    found.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    ray_cli = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    port, client_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    # two nodes on one Linux machine: Ray asks for this to allow it on loopback
    node_env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    commands = [
        [ray_cli, "start", "--head", f"--port={port}", "--include-dashboard=false"]
        + [f"--ray-client-server-port={client_port}", f"--temp-dir={temp}", *common],
        [ray_cli, "start", f"--address=127.0.0.1:{port}", *common],
    ]
    groups = []
    try:
        for command in commands:
            started = subprocess.Popen(
                command,
                env=node_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # the node's daemons share this group: the teardown
            )
            groups.append(started.pid)
            out, _ = started.communicate(timeout=180)
            assert started.returncode == 0, out[-2000:]
        yield LocalCluster(f"127.0.0.1:{port}", f"ray://127.0.0.1:{client_port}", env, groups)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Six photos, big enough at full render size that a run lasts several seconds."""
    root = tmp_path_factory.mktemp("cluster")
    src = root / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(smooth_photo(600, 800, seed=i)).save(src / f"p{i}.png")
    model = make_generator_file(root / "tiny.safetensors")
    reference = root / "reference"
    done = subprocess.run(colorize_command(src, reference, model), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return src, model, reference


def _colorize(cluster, src, out, model, *extra, wait=True):
    command = [*colorize_command(src, out, model), "--cluster", cluster.address, *extra]
    run = subprocess.Popen(
        command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if not wait:
        return run
    _, err = run.communicate(timeout=600)
    return run.returncode, err


def _rows(report: Path) -> list[dict]:
    with open(report, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _assert_same_as(reference: Path, out: Path) -> None:
    names = sorted(p.name for p in reference.glob("*.png"))
    assert sorted(p.name for p in out.glob("*.png")) == names
    for name in names:
        a = np.asarray(Image.open(reference / name))
        b = np.asarray(Image.open(out / name))
        assert np.array_equal(a, b), name  # pixel-equal to the single-machine run
    assert leftover_temps(out) == []


def test_a_folder_is_colorized_exactly_as_on_one_machine(cluster, folder, tmp_path):
    src, model, reference = folder
    out, report = tmp_path / "out", tmp_path / "report.csv"
    code, err = _colorize(cluster, src, out, model, "--report", str(report))
    assert code == 0, err
    assert "2 workers on 2 nodes" in err and "6 done, 0 skipped, 0 failed" in err
    _assert_same_as(reference, out)
    rows = _rows(report)
    assert sorted(r["source"] for r in rows) == sorted(str(p) for p in src.glob("*.png"))
    assert {r["status"] for r in rows} == {"done"}
    # a rerun resumes: everything is there already, made from these photos with this recipe
    code, err = _colorize(cluster, src, out, model, "--report", str(report))
    assert code == 0 and "0 done, 6 skipped, 0 failed" in err, err


def test_through_ray_client_from_outside_the_cluster(cluster, folder, tmp_path):
    """``--cluster ray://HOST:PORT``: the driver is not a node of the cluster (Ray Client)."""
    src, model, reference = folder
    out = tmp_path / "out"
    command = [*colorize_command(src, out, model), "--cluster", cluster.client]
    done = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "6 done, 0 skipped, 0 failed" in done.stderr
    _assert_same_as(reference, out)


def test_a_worker_killed_mid_file_loses_nothing(cluster, folder, tmp_path):
    src, model, reference = folder
    out, report = tmp_path / "out", tmp_path / "report.csv"
    run = _colorize(cluster, src, out, model, "--report", str(report), wait=False)
    deadline = time.monotonic() + 300
    while len(cluster.workers()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    while not list(out.glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the first output is out: the workers are mid-file now
    victim = cluster.workers()[0]
    victim.kill()
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "retried" in err and "6 done, 0 skipped, 0 failed" in err
    _assert_same_as(reference, out)
    rows = _rows(report)
    assert sorted(r["source"] for r in rows) == sorted(str(p) for p in src.glob("*.png"))
    assert all(r["status"] == "done" for r in rows)  # each reported once, as done


def test_after_the_driver_is_killed_a_rerun_finishes_the_folder(cluster, folder, tmp_path):
    src, model, reference = folder
    out, report = tmp_path / "out", tmp_path / "report.csv"
    run = _colorize(cluster, src, out, model, wait=False)
    deadline = time.monotonic() + 300
    while not list(out.glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.kill()  # kill -9 of the driver: its workers die with it, mid-file
    run.communicate()
    finished = {p.name for p in out.glob("*.png")}
    assert 0 < len(finished) < 6
    code, err = _colorize(cluster, src, out, model, "--report", str(report))
    assert code == 0, err
    _assert_same_as(reference, out)  # no temporary file or claim of the killed run is left
    rows = _rows(report)
    assert sorted(r["source"] for r in rows) == sorted(str(p) for p in src.glob("*.png"))
    made = {Path(r["output"]).name for r in rows if r["status"] == "done"}
    kept = {Path(r["output"]).name for r in rows if r["status"] == "skipped"}
    assert kept >= finished and made | kept == {p.name for p in reference.glob("*.png")}


def test_an_unreachable_cluster_is_one_line(folder, tmp_path):
    src, model, _ = folder
    command = [*colorize_command(src, tmp_path / "out", model), "--cluster"]
    done = subprocess.run(
        [*command, f"127.0.0.1:{_free_port()}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Ray cluster" in lines[0], done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_a_worker_that_cannot_fit_is_one_line(cluster, folder, tmp_path):
    src, model, _ = folder
    code, err = _colorize(cluster, src, tmp_path / "out", model, "--cpus-per-worker", "4")
    assert code == 2
    assert "no node of the cluster has 4 CPUs for a worker (the largest has 1)" in err, err


def test_ctrl_c_on_the_driver_stops_the_workers_and_leaves_no_partial_file(
    cluster, folder, tmp_path
):
    src, model, reference = folder
    out = tmp_path / "out"
    run = _colorize(cluster, src, out, model, wait=False)
    deadline = time.monotonic() + 300
    while not list(out.glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert leftover_temps(out) == []  # the workers stopped between tiles and cleaned up
    done = sorted(out.glob("*.png"))
    assert 0 < len(done) < 6
    for p in done:
        assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(reference / p.name)))


def test_a_cluster_that_asks_for_a_token_is_one_line(cluster, folder, tmp_path):
    src, model, _ = folder
    without = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    command = [*colorize_command(src, tmp_path / "out", model), "--cluster", cluster.address]
    done = subprocess.run(command, env=without, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "asks for its authentication token" in lines[0], done.stderr


class _FlakyRay:
    """Stands in for ``ray``: its client init fails as a Ray Client server that died at its
    fork does (ray-project/ray#63202), ``failures`` times, then succeeds."""

    def __init__(self, failures: int, message: str = "Initialization failure from server:"):
        self.failures, self.message = failures, message
        self.inits = self.shutdowns = 0

    def init(self, address, **kwargs):
        self.inits += 1
        if self.inits <= self.failures:
            raise ConnectionAbortedError(f"{self.message}\nTraceback (most recent call last):")

    def shutdown(self):
        self.shutdowns += 1


def test_a_ray_client_server_that_dies_at_its_start_is_tried_again(monkeypatch):
    """The head's proxy sometimes loses the server it forks for a client: a fresh attempt
    joins; when every attempt fails, or the failure is another one, it is one line."""
    from colorizer_app.engine import cluster as engine_cluster
    from models.errors import ColorizerError

    monkeypatch.setattr(engine_cluster, "_check_reachable", lambda address: None)
    monkeypatch.setattr(engine_cluster, "CLIENT_RETRY_PAUSE_S", 0.0)
    flaky = _FlakyRay(failures=2)
    engine_cluster._connect(flaky, "ray://127.0.0.1:10001")
    assert flaky.inits == 3 and flaky.shutdowns == 2

    always = _FlakyRay(failures=99)
    with pytest.raises(ColorizerError) as raised:
        engine_cluster._connect(always, "ray://127.0.0.1:10001")
    assert always.inits == engine_cluster.CLIENT_ATTEMPTS
    assert str(raised.value).startswith("cannot join the Ray cluster at ray://127.0.0.1:10001")
    assert "\n" not in str(raised.value)

    other = _FlakyRay(failures=99, message="Ray Client is already connected")
    with pytest.raises(ColorizerError):
        engine_cluster._connect(other, "ray://127.0.0.1:10001")
    assert other.inits == 1  # not a failed server start: said at once

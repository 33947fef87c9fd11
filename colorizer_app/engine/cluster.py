"""The batch over a Ray cluster: ``colorizer colorize ... --cluster ADDRESS``.

The driver (the machine running the command) does everything it does on one machine except
making the photos: it lists and plans the inputs, decides what to skip, claims each output
before it is made (:func:`batch.open_item`), counts, reports and writes the CSV. The photos
are made by Ray actors (:class:`ColorizeWorker`), each holding the model loaded once; a worker
runs :func:`batch.make_item`, the very function of the single-machine batch (read, tiles,
compose, atomic write, provenance record), so an output is the same wherever it is made.

Inputs and outputs must be on a file system every node sees under the same path; the model
travels with the job (through Ray's object store), so nodes need no copy of it.

Faults: a worker that dies mid-file (killed, out of memory, its node lost) is restarted by Ray
and the file is given to a worker again, up to :data:`ATTEMPTS` times; the output's claim
stays with the driver meanwhile, so no other process takes it, and the dead worker's
temporary file is removed. Its atomic write means no partial output can appear. Ctrl+C or
SIGTERM on the driver asks the workers to stop between tiles, keeps what they finished and
releases the claims. A driver killed outright leaves claims and temporary files that the next
run on the same outputs takes over and removes (as after a killed single-machine run).

Ray is an optional extra (``pip install "colorizer[cluster]"``) imported only here, only
when a cluster run starts: the single-machine path never needs it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from colorizer_app.engine.batch import (
    BatchItem,
    BatchSummary,
    FileResult,
    clean_up_after_killed_runs,
    make_item,
    open_item,
    settled,
)
from colorizer_app.engine.listing import NotTaken
from colorizer_app.engine.pipeline import ColorizeSettings
from colorizer_app.engine.provenance import Recipe
from models.atomic import Claim, remove_stale_temps, shielded
from models.errors import Cancelled, ColorizerError
from models.progress import CallbackProgress, NullProgress, Progress

log = logging.getLogger(__name__)

ATTEMPTS = 3  # times a file is given to a worker before it is reported failed
START_TIMEOUT_S = 300.0  # workers that have not started by then: the cluster is too busy
CONNECT_TIMEOUT_S = 10.0  # a cluster address that does not answer within this is unreachable
STOP_TIMEOUT_S = 60.0  # after Ctrl+C: how long the workers get to finish their tile
INSTALL_HINT = 'pip install "colorizer[cluster]"'


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide a batch runs on Ray."""

    address: str  # auto, ray://host:port, host:port (a head's GCS), local or local:N
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    workers: int | None = None  # at most this many (default: as many as the cluster fits)

    def __post_init__(self) -> None:
        if self.cpus_per_worker <= 0:
            raise ColorizerError("--cpus-per-worker must be positive")
        if self.gpus_per_worker < 0:
            raise ColorizerError("--gpus-per-worker must not be negative")
        if self.workers is not None and self.workers < 1:
            raise ColorizerError("--workers must be at least 1")
        local_cpus(self.address)  # a malformed local:N is a usage error before anything runs


def local_cpus(address: str) -> int | None:
    """N of ``local:N`` (the machine's CPU count for ``local``); None for other addresses."""
    if address != "local" and not address.startswith("local:"):
        return None
    if address == "local":
        return os.cpu_count() or 1
    try:
        n = int(address.split(":", 1)[1])
    except ValueError:
        n = 0
    if n < 1:
        raise ColorizerError(f"--cluster {address}: expected local or local:N with N >= 1")
    return n


class ColorizeWorker:
    """A Ray actor's body: the model loaded once, one photo at a time.

    The model arrives as an object ref inside a list (so that Ray leaves fetching it to the
    worker) with every call, and is loaded on the first: a worker that Ray restarted after a
    crash loads it again by itself. ``problem`` replaces a traceback when the worker cannot
    work on its node (it cannot see the folders, the model does not load): the driver reads
    it with :meth:`describe` and stops with that one line.
    """

    def __init__(self, settings: ColorizeSettings, folders: list[str], threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        from ray import get_runtime_context

        self.host, self.pid = socket.gethostname(), os.getpid()
        self.node = get_runtime_context().get_node_id()
        self.settings = settings
        self.runner = None
        self._progress = CallbackProgress()
        self.problem = ""
        unseen = [f for f in folders if not os.path.isdir(f)]  # as the driver saw them
        if unseen:
            self.problem = (
                f"node {self.host} does not see {unseen[0]}: inputs and outputs must be on a "
                "file system every node shares, under the same path"
            )

    def _load(self, model: list) -> None:
        if self.runner is not None or self.problem:
            return
        from ray import get as ray_get

        from models.modelfile import load_generator

        try:
            with tempfile.TemporaryDirectory(prefix="colorizer-model-") as folder:
                path = Path(folder) / "model.safetensors"
                path.write_bytes(ray_get(model[0]))
                generator = load_generator(path)
            self.runner = self.settings.make_runner(generator)
        except ColorizerError as err:
            self.problem = f"node {self.host}: {err}"

    def describe(self, model: list) -> dict:
        """Load the model; where this worker runs and on what (or why it cannot)."""
        self._load(model)
        return {
            "host": self.host,
            "pid": self.pid,
            "node": self.node,
            "device": self.runner.description if self.runner is not None else "",
            "problem": self.problem,
        }

    def make(self, model: list, item: BatchItem, recipe: Recipe, overwrite: bool, max_pixels: int):
        """One photo (its output claimed by the driver): the result, None when cancelled."""
        self._load(model)
        if self.problem:
            return FileResult(item.source, item.output, "failed", self.problem)
        self._progress = CallbackProgress()
        return make_item(
            item,
            self.runner,
            self.settings,
            recipe,
            overwrite=overwrite,
            max_pixels=max_pixels,
            progress=self._progress,
        )

    def cancel(self) -> None:
        """Stop the photo in flight between tiles (runs beside :meth:`make`)."""
        self._progress.cancel()


def run_batch_on_cluster(
    items: list[BatchItem],
    model_path: str | os.PathLike,
    settings: ColorizeSettings,
    recipe: Recipe,
    options: ClusterOptions,
    *,
    overwrite: bool = False,
    max_pixels: int,
    progress: Progress | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    not_taken: Iterable[NotTaken] = (),
) -> BatchSummary:
    """:func:`batch.run_batch`, with the photos made on Ray workers.

    ``on_note`` hears one-line facts about the run (the workers started, a worker lost and
    its file retried, workers that differ). Raises :class:`ColorizerError` with one line when
    Ray is missing, the cluster cannot be reached or cannot start a worker; Ctrl+C
    (``KeyboardInterrupt``) is re-raised after the workers stopped and the claims were
    released.
    """
    ray = _import_ray()
    progress = progress or NullProgress()
    note = on_note or (lambda text: log.info("%s", text))
    summary = BatchSummary(not_taken=list(not_taken))

    def report(result: FileResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    folders = {item.output.parent for item in items if item.output}
    clean_up_after_killed_runs(folders)
    # what needs no worker (no valid output, an output to keep) is reported first: a rerun
    # of a finished folder starts no worker at all
    todo = []
    for item in items:
        if (result := settled(item, recipe, overwrite)) is None:
            todo.append(item)
        else:
            report(result)
            progress.update(len(summary.results), len(items), str(item.source))
    if not todo:
        return summary
    for folder in {item.output.parent for item in todo}:  # the workers check they see them
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # its files fail with the reason when they are written
    _connect(ray, options.address)
    try:
        pool = _start_workers(ray, Path(model_path), settings, options, todo, note)
        dispatcher = _Dispatcher(ray, pool, recipe, overwrite, max_pixels, report, note)
        try:
            dispatcher.run(todo, progress, len(summary.results), len(items))
        except (KeyboardInterrupt, Cancelled) as stop:
            summary.cancelled = True
            dispatcher.stop()
            if isinstance(stop, KeyboardInterrupt):
                raise
    finally:
        ray.shutdown()
    return summary


def _import_ray():
    try:
        with shielded():  # an interrupt raised inside Ray's C++ start-up aborts the process
            import ray
    except ImportError:
        raise ColorizerError(
            f"--cluster needs Ray, which is not installed here: {INSTALL_HINT}"
        ) from None
    return ray


# Ray Client: the head's proxy forks a server per client, and that fork sometimes dies at
# once (a gRPC race in the proxy, ray-project/ray#63202: "Initialization failure from
# server"; seen here on a busy 2-core machine). A fresh attempt gets a fresh fork.
CLIENT_ATTEMPTS = 3
CLIENT_RETRY_PAUSE_S = 2.0


def _join(ray, address: str, quiet: dict) -> None:
    """``ray.init(address)``, tried again when a Ray Client server failed to start for us."""
    for attempt in range(1, CLIENT_ATTEMPTS + 1):
        try:
            ray.init(address=address, **quiet)
            return
        except ConnectionError as err:  # ConnectionAbortedError from the client
            if attempt == CLIENT_ATTEMPTS or "Initialization failure from server" not in str(err):
                raise
            log.info("the Ray Client server did not start (attempt %d): trying again", attempt)
            with contextlib.suppress(Exception):
                ray.shutdown()
            time.sleep(CLIENT_RETRY_PAUSE_S)


def _connect(ray, address: str) -> None:
    """Start a throwaway local cluster or join one; one line when it cannot be reached.

    Ray installs its own handlers for SIGTERM and SIGINT (it dies at once, printing a stack):
    ours are put back, so that Ctrl+C and SIGTERM stop the batch cleanly as on one machine."""
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    n = local_cpus(address)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    said = _Kept()
    try:
        if n is not None:
            ray.init(num_cpus=n, include_dashboard=False, **quiet)
        else:
            if address != "auto":
                _check_reachable(address)
            with _stderr_kept() as said:  # Ray's core prints a warning per retry there
                _join(ray, address, quiet)
    except ColorizerError:
        raise
    except Exception as err:  # Ray's ConnectionError, RuntimeError, ValueError...
        if n is None and "InvalidAuthToken" in said.text:
            raise ColorizerError(
                f"the Ray cluster at {address} asks for its authentication token: set "
                "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or ~/.ray/auth_token) here as on its "
                "nodes"
            ) from None
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        why = " ".join(lines[:2]) if lines and lines[0].endswith(":") else "".join(lines[:1])
        raise ColorizerError(
            f"cannot join the Ray cluster at {address}: {why or type(err).__name__}"
        ) from None
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)


class _Kept:
    text = ""


@contextlib.contextmanager
def _stderr_kept():
    """Keep what is written to file descriptor 2 (by C++ code too) while joining a cluster;
    it is logged at debug level, and read for the reason when joining fails."""
    kept = _Kept()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield kept
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept.text = sink.read().decode("utf-8", "replace")
            if kept.text.strip():
                log.debug("while joining the cluster: %s", kept.text.strip())


def _check_reachable(address: str) -> None:
    """A TCP connection to the head first: Ray itself retries an address that does not
    answer for minutes, printing warnings."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ColorizerError(
            f"--cluster {address}: expected auto, ray://HOST:PORT, HOST:PORT, local or local:N"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise ColorizerError(
            f"cannot reach the Ray cluster at {address} ({err.strerror or err}); is its head "
            "running (ray start --head)?"
        ) from None


@dataclass
class _Worker:
    handle: object
    where: str  # "host pid"
    model: object  # the model's object ref (every call carries it, for a restarted worker)
    failures: int = 0  # deaths in a row while making a file


def _start_workers(ray, model_path, settings, options, items, note) -> list[_Worker]:
    """As many workers as the cluster fits (at most ``options.workers``, at most one per
    item), each with the model loaded; one line and no run if they cannot start."""
    count = _worker_count(ray, options, len(items))
    folders = sorted(
        str(folder)
        for item in items
        if item.output is not None
        for folder in (item.output.parent, item.source.parent)
        if folder.is_dir()
    )
    device = "cuda" if options.gpus_per_worker > 0 else "cpu"
    if settings.device not in ("auto", device):
        raise ColorizerError(
            f"--device {settings.device} does not go with --gpus-per-worker "
            f"{options.gpus_per_worker:g} on a cluster; the workers' GPUs decide the device"
        )
    try:
        model = ray.put(Path(model_path).read_bytes())
    except OSError as err:
        raise ColorizerError(f"{model_path}: cannot read the model ({err.strerror})") from None
    actor = ray.remote(
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker,
        max_restarts=-1,  # a dead worker comes back (on another node if its node is gone)
        max_task_retries=0,  # the driver decides what to redo
        concurrency_groups={"control": 1},  # cancel() runs beside make()
    )(ColorizeWorker)
    threads = max(1, int(options.cpus_per_worker))
    handles = [actor.remote(settings.with_(device=device), folders, threads) for _ in range(count)]
    pending = {h.describe.remote([model]): h for h in handles}
    described = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=1.0)
        for ref in ready:
            info = ray.get(ref)
            if info["problem"]:
                raise ColorizerError(info["problem"])
            described.append((pending.pop(ref), info))
        if pending and time.monotonic() > deadline:
            raise ColorizerError(
                f"{len(pending)} of {count} workers did not start within "
                f"{START_TIMEOUT_S:.0f} s (is the cluster busy with other jobs?)"
            )
    devices = collections.Counter(info["device"] for _, info in described)
    nodes = {info["node"] for _, info in described}
    note(
        f"{count} worker{'s' if count != 1 else ''} on {len(nodes)} node"
        f"{'s' if len(nodes) != 1 else ''}: " + ", ".join(f"{n} x {d}" for d, n in devices.items())
    )
    if len(devices) > 1:
        note(
            "the workers run on different devices or precisions; a photo's colours can differ "
            "by a level between them (--precision fp32 makes them equal on CPUs)"
        )
    return [_Worker(h, f"{info['host']} {info['pid']}", model) for h, info in described]


def _worker_count(ray, options: ClusterOptions, todo: int) -> int:
    """Workers that fit the cluster's nodes (each on one node), capped."""
    fits = 0
    biggest = {"CPU": 0.0, "GPU": 0.0}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        biggest = {"CPU": max(biggest["CPU"], cpus), "GPU": max(biggest["GPU"], gpus)}
        n = int(cpus // options.cpus_per_worker)
        if options.gpus_per_worker > 0:
            n = min(n, int(gpus // options.gpus_per_worker))
        fits += n
    if fits == 0:
        if options.gpus_per_worker > 0 and biggest["GPU"] < options.gpus_per_worker:
            have = f"{biggest['GPU']:g} GPUs" if biggest["GPU"] else "no GPU"
            raise ColorizerError(
                f"no node of the cluster has {options.gpus_per_worker:g} GPUs for a worker "
                f"(the largest has {have}); lower --gpus-per-worker or leave it out"
            )
        raise ColorizerError(
            f"no node of the cluster has {options.cpus_per_worker:g} CPUs for a worker (the "
            f"largest has {biggest['CPU']:g}); lower --cpus-per-worker"
        )
    return max(1, min(fits, todo, options.workers or fits))


class _Dispatcher:
    """Gives planned items to idle workers, collects results, retries a dead worker's file."""

    def __init__(self, ray, pool, recipe, overwrite, max_pixels, report, note) -> None:
        self.ray = ray
        self.idle = collections.deque(pool)
        self.recipe, self.overwrite, self.max_pixels = recipe, overwrite, max_pixels
        self.report, self.note = report, note
        # ref -> (item, worker, claim, attempt)
        self.inflight: dict = {}
        self.retry: collections.deque = collections.deque()  # (item, claim, attempt)

    def run(self, items: list[BatchItem], progress: Progress, done: int, total: int) -> None:
        """Make ``items``; ``done`` of ``total`` files were reported before."""
        queue = collections.deque(items)
        while queue or self.retry or self.inflight:
            progress.check_cancelled()
            while self.idle and (self.retry or queue):
                if self.retry:
                    self._submit(*self.retry.popleft())
                    continue
                item = queue.popleft()
                opened = open_item(item, self.recipe, self.overwrite)
                if isinstance(opened, FileResult):
                    self.report(opened)
                    done += 1
                    progress.update(done, total, str(item.source))
                else:
                    self._submit(item, opened, 1)
            if not self.inflight:
                if (queue or self.retry) and not self.idle:
                    raise ColorizerError("every worker of the cluster died; nothing is left")
                continue
            ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=0.5)
            for ref in ready:
                item, finished = self._collect(ref)
                if finished:
                    done += 1
                    progress.update(done, total, str(item.source))

    def _submit(self, item: BatchItem, claim: Claim, attempt: int) -> None:
        worker = self.idle.popleft()
        ref = worker.handle.make.remote(
            [worker.model], item, self.recipe, self.overwrite, self.max_pixels
        )
        self.inflight[ref] = (item, worker, claim, attempt)

    def _collect(self, ref) -> tuple[BatchItem, bool]:
        """Take one finished call; whether its item is finished (reported)."""
        from ray.exceptions import RayError, RayTaskError

        item, worker, claim, attempt = self.inflight.pop(ref)
        try:
            result = self.ray.get(ref)
        except RayTaskError as err:  # a bug in the worker (make_item reports bad files itself)
            result = FileResult(item.source, item.output, "failed", f"internal error: {err}")
        except RayError:
            # the worker died mid-file (killed, out of memory, its node lost); the claim is
            # still ours, so nobody else takes the file
            worker.failures += 1
            remove_stale_temps(item.output.parent, item.output.name)
            if worker.failures < ATTEMPTS:
                self.idle.append(worker)  # Ray restarts it; calls wait for the restart
            else:
                self.note(f"worker {worker.where} died {worker.failures} times; not used again")
            if attempt < ATTEMPTS:
                self.note(f"worker {worker.where} lost while making {item.source}; retried")
                self.retry.append((item, claim, attempt + 1))
                return item, False
            claim.release()
            reason = f"its worker died {attempt} times while making it (out of memory?)"
            self.report(FileResult(item.source, item.output, "failed", reason))
            return item, True
        worker.failures = 0
        self.idle.append(worker)
        claim.release()
        if result is None:  # stopped by stop(): not made, not reported
            return item, False
        self.report(result)
        return item, True

    def stop(self) -> None:
        """Ctrl+C: the workers stop between tiles; what they finish meanwhile is reported."""
        for _, worker, _, _ in self.inflight.values():
            worker.handle.cancel.options(concurrency_group="control").remote()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        try:
            while self.inflight and time.monotonic() < deadline:
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=0.5)
                for ref in ready:
                    self._collect(ref)
        finally:
            for _, _, claim, _ in list(self.inflight.values()) + [
                (None, None, c, None) for _, c, _ in self.retry
            ]:
                claim.release()

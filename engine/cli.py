"""``nndesigner``'s subcommands: train, summary, gradcheck, parity, trace, export, import,
screenshot.

The console script starts in :mod:`nndesigner.launcher`, which stands above the engine and the
designer: it opens the app when no subcommand is given and otherwise runs :func:`main` here.
This module never imports the designer, not even lazily: ``screenshot`` parses and checks its
arguments here and draws the window with the renderer the launcher passes in. The headless
subcommands never import Qt. Exit status: 0 success; 1 gradient check above tolerance; 2 bad
input (a short message on stderr, no traceback); 3 training stopped on a non-finite loss or
gradient.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

from engine import doctor_cli, gradcheck_cli, runs_cli, watch_cli
from engine.errors import NNDError, NonFiniteError, Problem, ValidationError

SUBCOMMANDS = (
    "train",
    "runs",
    "summary",
    "doctor",
    "gradcheck",
    "parity",
    "trace",
    "export",
    "import",
    "screenshot",
)

#: What each subcommand is doing, for the message of a MemoryError ("ran out of memory while...").
_DOING = {
    "train": "training the project",
    "runs": "listing the runs",
    "summary": "summarizing the project",
    "doctor": "examining the project",
    "gradcheck": "checking the gradients",
    "parity": "comparing the backends",
    "trace": "tracing a training step",
    "export": "exporting the project",
    "import": "importing the model",
    "screenshot": "rendering the screenshot",
}
#: The sides ``screenshot --size`` accepts, in pixels: smaller cannot hold the window's panels,
#: larger is refused by Qt's raster engine (a 100000x100000 image is 37 GiB and crashes it).
SCREENSHOT_SIDE = (200, 8192)

#: What draws the window for ``screenshot``: ``(project_path or None, out_png, (width, height),
#: train_epochs=n) -> None``, raising NNDError or OSError (``designer.app.screenshot``).
WindowRenderer = Callable[..., None]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with one line, as for any bad input
        self.print_usage(sys.stderr)
        raise SystemExit(f"nndesigner: error: {message}") from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nndesigner")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nndesigner", description="Design, train and step through neural networks.")
    p.add_argument("--version", action="version", version=f"nndesigner {_version()}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a project headless and save the trained .nnd")
    t.add_argument("project")
    t.add_argument("--backend", choices=("numpy", "tensorflow"))
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--learning-rate", type=float, help="the optimizer's learning rate")
    t.add_argument(
        "--distribute",
        choices=("mirrored", "multiworker"),
        help="data-parallel on TensorFlow's strategies (the TensorFlow backend): mirrored "
        "over every GPU, or --replicas logical CPU devices; multiworker over the cluster "
        "TF_CONFIG names (run the same command on every worker; the chief writes -o, a "
        "{worker} in -o gives every worker a file of its own)",
    )
    t.add_argument(
        "--replicas",
        type=int,
        metavar="N",
        help="with --distribute: split the CPU into N logical devices (no GPU needed)",
    )
    t.add_argument(
        "--cluster-wait",
        type=int,
        metavar="SECONDS",
        help="with --distribute multiworker: how long a worker waits for the rest of the "
        "cluster to start (default 300)",
    )
    t.add_argument(
        "--from",
        dest="from_point",
        metavar="RUN:EPOCH",
        help="continue run RUN from its snapshot after EPOCH (a fork: with other settings, a "
        "new line of training; with the same, the same run again); --epochs is the last "
        "epoch's number, as in Keras",
    )
    t.add_argument("-o", "--output", help="where to write the trained project (.nnd)")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    watch_cli.add_arguments(t)
    t.add_argument(
        "--data",
        metavar="FILE",
        help="train on this file or image folder instead of the project's dataset (CSV/TSV, "
        ".npz, .npy, IDX images, a folder of class subfolders); the project file is not changed",
    )
    t.add_argument(
        "--target",
        metavar="COLUMN",
        help="with --data: the column to predict, a header name or a 0-based index "
        "(default: the last column)",
    )
    t.add_argument(
        "--match",
        action="store_true",
        help="fit the input shape, output layer and loss to the data first "
        "(like the dataset panel's 'Match network to data')",
    )

    s = sub.add_parser("summary", help="print the layer table: output shapes, parameters, FLOPs")
    s.add_argument("project")

    doctor_cli.add_parser(sub)
    gradcheck_cli.add_parser(sub)

    pa = sub.add_parser("parity", help="compare one training step of NumPy and TensorFlow")
    pa.add_argument("project")
    pa.add_argument("--batch-size", type=int, default=32)

    ru = sub.add_parser("runs", help="list a project's training runs: parents, changes, metrics")
    ru.add_argument("project")
    ru.add_argument("--json", action="store_true", help="the table as JSON, for scripts")

    r = sub.add_parser("trace", help="one training step, phase by phase, as JSON")
    r.add_argument("project")
    r.add_argument("--batch-size", type=int)
    r.add_argument("-o", "--output", required=True)

    x = sub.add_parser("export", help="write the project as a Keras script (and its weights)")
    x.add_argument("project")
    x.add_argument("-o", "--output", help="the .py file to write (default: beside the project)")
    x.add_argument(
        "--from",
        dest="from_point",
        metavar="RUN:EPOCH",
        help="the weights of that run after that epoch (default: the project's current ones)",
    )

    i = sub.add_parser("import", help="read a saved Keras model (.keras or .h5) into a project")
    i.add_argument("model")
    i.add_argument("-o", "--output", help="the project to write (default: MODEL with .nnd)")
    i.add_argument(
        "--strict",
        action="store_true",
        help="refuse a setting NN Designer cannot honour instead of replacing it with a warning",
    )

    sc = sub.add_parser("screenshot", help="render the main window offscreen to a PNG")
    sc.add_argument("project", nargs="?")
    sc.add_argument("-o", "--output", required=True)
    sc.add_argument("--size", default="1600x1000")
    sc.add_argument("--train-epochs", type=int, default=0)
    return p


def main(argv: list[str] | None = None, render_window: WindowRenderer | None = None) -> int:
    """Run one subcommand; the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).
    render_window : callable, optional
        What ``screenshot`` draws the window with (see :data:`WindowRenderer`); the launcher
        passes the designer's. Without it, ``screenshot`` checks its arguments and says to
        run it as ``nndesigner screenshot``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        shown = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(
            f"nndesigner: error: {shown}; commands: {', '.join(SUBCOMMANDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        return int(exc.code or 0)
    try:
        if args.command == "screenshot":
            return cmd_screenshot(args, render_window)
        return COMMANDS[args.command](args)
    except NonFiniteError as exc:
        print(f"nndesigner: {exc}", file=sys.stderr)
        return exc.exit_code
    except NNDError as exc:
        print(f"nndesigner: {exc}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        # NumPy raises it when an allocation fails under the real limit (RLIMIT_AS, a cgroup),
        # even after the size checks passed: their estimates are lower bounds.
        from engine.memory import out_of_memory_message

        what = _DOING.get(args.command, f"running {args.command}")
        print(f"nndesigner: {out_of_memory_message(what)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nndesigner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nndesigner runs P.nnd | head`): nothing more to say, and
        # Python's flush at exit must not complain either.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _load(path: str):
    from engine.project import load_project

    project = load_project(path)
    for warning in project.load_warnings:
        print(f"nndesigner: warning: {path}: {warning}", file=sys.stderr)
    return project


def cmd_summary(args) -> int:
    from engine.validate import check_project

    project = _load(args.project)
    # A summary needs no data and no loss: an imported Keras model has neither yet.
    graph = check_project(project, training=False)
    print(graph.summary_text(project.name))
    return 0


def _fmt_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _fmt_took(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


#: The longest --cluster-wait: a day.
MAX_CLUSTER_WAIT_S = 86400


def _set_cluster_wait(args) -> None:
    """``--cluster-wait``: this process's bound on the wait for the cluster's other workers."""
    if args.distribute != "multiworker":
        raise NNDError(
            "--cluster-wait bounds the wait for a cluster; give --distribute multiworker"
        )
    wait = args.cluster_wait
    if not 0 < wait <= MAX_CLUSTER_WAIT_S:
        raise NNDError(
            f"--cluster-wait must be a whole number of seconds from 1 to "
            f"{MAX_CLUSTER_WAIT_S} (a day), got {wait}"
        )
    from engine.backends.tensorflow import distribute

    distribute.CLUSTER_WAIT_S = wait


def cmd_train(args) -> int:
    from engine.project import save_project

    project = _load(args.project)
    cluster = None
    if args.cluster_wait is not None:
        _set_cluster_wait(args)
    if args.distribute == "multiworker":
        from engine.backends.tensorflow.distribute import read_cluster

        cluster = read_cluster()
    out = _output_path(args, project, cluster)
    if out.suffix.lower() != ".nnd":
        raise NNDError(
            "the trained project must be written to a .nnd file (it holds the weights)", str(out)
        )
    from engine.runs import parse_point

    from_point = parse_point(args.from_point) if args.from_point else None
    if from_point is not None:
        # A fork starts from its parent's settings; the options below change them.
        if project.runs is None:
            raise NNDError("the project has no runs to continue; train it first")
        project.data.update(copy.deepcopy(project.runs.get(from_point[0]).settings))
    overrides = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("seed", args.seed),
        )
        if value is not None
    }
    if overrides:
        fit = project.data.setdefault("fit", {})
        if not isinstance(fit, dict):
            from engine.validate import json_kind

            raise ValidationError(
                [Problem(f"must be an object, got {json_kind(fit)}", field="fit")]
            )
        fit.update(overrides)
    if args.learning_rate is not None:
        _set_learning_rate(project, args.learning_rate)
    watch_cli.arm(project, args)
    if args.replicas is not None and args.distribute is None:
        raise NNDError("--replicas splits the CPU for --distribute mirrored; give --distribute")
    if args.distribute is not None:
        project.data["distribute"] = {"strategy": args.distribute}
        if args.replicas is not None:
            project.data["distribute"]["replicas"] = args.replicas
    if args.backend:
        project.data["backend"] = args.backend
    data_path = None
    if args.target is not None and args.data is None:
        raise NNDError("--target names a column of the --data file; give --data too")
    if args.data is not None:
        data_path = Path(args.data).expanduser().absolute()
        project.data["dataset"] = _data_spec(project.dataset, data_path, args.target)
    if "dataset" not in project.data:
        from engine.validate import NO_DATASET

        raise ValidationError([Problem(NO_DATASET, field="dataset")])
    if args.match:
        from engine.data import load_dataset
        from engine.data.match import match_network_to_data

        dataset = load_dataset(project.dataset, project.base_dir)
        project.data = match_network_to_data(project.data, dataset)
    from engine.run_recorder import begin_run

    begun = begin_run(project, from_point)
    data, model, trainer, recorder = begun.data, begun.model, begun.trainer, begun.recorder
    f = project.fit
    epochs = begun.epochs
    quiet = args.quiet
    tty = sys.stdout.isatty()
    if not quiet:
        _say_where_it_starts(project, recorder.run)
    if not quiet:
        n_val = 0 if data.x_val is None else len(data.x_val)
        print(
            f"Training '{project.name}' on {len(data.x_train)} samples"
            f" (validating on {n_val}) with the {project.backend} backend: {epochs} epochs"
            f" of {trainer.steps_per_epoch} steps, batch size {f['batch_size']}",
            flush=True,
        )
    last_draw = 0.0
    t_epoch = time.perf_counter()
    result = None
    watched = None
    for ev in trainer.run(epochs):
        if ev.kind == "step" and not quiet and tty:
            now = time.perf_counter()
            if now - last_draw > 0.1 or ev.step == ev.steps_per_epoch:
                last_draw = now
                frac = ev.step / ev.steps_per_epoch
                done = (ev.epoch - 1) * ev.steps_per_epoch + ev.step
                total = ev.epochs * ev.steps_per_epoch
                eta = ev.elapsed / done * (total - done) if done else 0.0
                bar = "█" * int(frac * 24) + "·" * (24 - int(frac * 24))
                sys.stdout.write(
                    f"\rEpoch {ev.epoch}/{ev.epochs} {bar} {ev.step}/{ev.steps_per_epoch}"
                    f" ETA {_fmt_time(eta)} - {_fmt_logs(ev.logs)}\x1b[K"
                )
                sys.stdout.flush()
        elif ev.kind == "epoch":
            recorder.epoch(trainer)
            if quiet:
                continue
            took = time.perf_counter() - t_epoch
            t_epoch = time.perf_counter()
            remaining = (ev.epochs - ev.epoch) * took
            prefix = "\r" if tty else ""
            print(
                f"{prefix}Epoch {ev.epoch}/{ev.epochs} - {_fmt_took(took)} - {_fmt_logs(ev.logs)}"
                + (f" - ETA {_fmt_time(remaining)}" if ev.epoch < ev.epochs else "")
                + ("\x1b[K" if tty else ""),
                flush=True,
            )
        elif ev.kind == "watch" and watched is None:
            # Headless, a watchpoint stops the run at that batch; its step is traced now,
            # while the trainer holds the state it paused in.
            watched = ev.hit
            trace = watch_cli.trace_path(args, out)
            phases = watch_cli.write_hit_trace(project, begun.graph, trainer, watched, trace)
            trainer.request_stop()
        elif ev.kind == "end":
            result = ev
    restored = trainer.finish()
    recorder.finish(trainer)
    if not quiet and trainer.stop_reason is not None:
        print(f"Stopped after epoch {trainer.epochs_done}: {trainer.stop_reason}", flush=True)
    if not quiet and restored:
        print(f"End of training: {restored}", flush=True)
    project.weights = model.flat_weights()
    project.history = trainer.history  # the whole line's, as the window shows it
    if data_path is not None:
        from engine.data import relative_data_path

        # Stored relative to the trained file, where it will be opened from.
        project.data["dataset"]["path"] = relative_data_path(data_path, out.absolute().parent)
    else:
        rebase_data_paths(project, out)
    writes = cluster is None or cluster.is_chief or "{worker}" in (args.output or "")
    if writes:
        save_project(project, out)
    elif not quiet:
        print(
            f"{cluster.label()}: the chief writes {out}"
            " (a {worker} in -o gives each worker its own)"
        )
    if watched is not None:
        if tty and not quiet:
            print()
        print(f"nndesigner: {watch_cli.hit_text(watched)}", file=sys.stderr)
        if not quiet:
            print(f"Wrote the batch's step, {phases} phases from the weights before it, to {trace}")
            if writes:
                print(f"Saved the project as it stopped to {out}")
        return watch_cli.EXIT_WATCH
    if result is not None and result.error is not None:
        print(f"nndesigner: {result.error}", file=sys.stderr)
        if not quiet and writes:
            kept = "finite" if isinstance(result.error, NonFiniteError) else "complete step's"
            print(f"Saved the last {kept} weights to {out}")
        return result.error.exit_code
    if not quiet and writes:
        print(f"Saved the trained project to {out}")
    return 0


def _output_path(args, project, cluster) -> Path:
    """Where ``train`` writes: ``-o`` (its ``{worker}`` replaced by this worker's rank, the
    chief's 0), or the project's own name with ``.nnd``."""
    if not args.output:
        return _default_output(project)
    text = args.output
    if "{worker}" in text:
        if cluster is None:
            raise NNDError(
                "{worker} in -o names each worker's file: it needs --distribute multiworker"
            )
        text = text.replace("{worker}", str(cluster.rank))
    return Path(text)


def _set_learning_rate(project, rate: float) -> None:
    """``--learning-rate``: the optimizer's (a schedule's initial rate)."""
    from engine.optimizers import DEFAULT_OPTIMIZER

    comp = project.data.setdefault("compile", {})
    spec = comp.get("optimizer", DEFAULT_OPTIMIZER)
    if isinstance(spec, str):
        spec = {"class_name": spec, "config": {}}
    spec = copy.deepcopy(spec)
    config = spec.setdefault("config", {})
    current = config.get("learning_rate")
    if isinstance(current, dict):  # a schedule: its initial rate
        current.setdefault("config", {})["initial_learning_rate"] = rate
    else:
        config["learning_rate"] = rate
    comp["optimizer"] = spec


def _say_where_it_starts(project, run) -> None:
    """One line: which run this is and where it starts from."""
    if run.parent is None and project.weights:
        print(
            f"Continuing from the trained weights in {project.path.name} as run {run.number}"
            " (the optimizer state restarts: the file keeps no snapshot of it)",
            flush=True,
        )
    elif run.parent is not None:
        changed = ", ".join(f"{k} {v['to']!r}" for k, v in run.changed.items()) or "nothing"
        print(
            f"Run {run.number}: continuing run {run.parent.replace(':', ' after epoch ')}"
            f" (weights, optimizer state and random streams as they were; changed: {changed})",
            flush=True,
        )


def _data_spec(current: dict, path: Path, target: str | None) -> dict:
    """The dataset spec for ``--data``: the file, its target, and the project's preparation
    keys (scaling, test split), which apply to any data."""
    from engine.data import COMMON_KEYS

    spec = {key: value for key, value in current.items() if key in COMMON_KEYS}
    spec["path"] = str(path)
    if target is not None:
        spec["target"] = target
    return spec


#: The dataset keys that hold a file path (relative ones are read from the project's folder).
DATA_PATH_KEYS = ("path", "y_path", "labels_path")


def rebase_data_paths(project, out: Path) -> None:
    """Rewrite the relative data paths of ``project`` for saving it to ``out``.

    A relative path is read from the folder of the project file; saved into another folder,
    it would point elsewhere. Each one is resolved from the project's folder and stored again
    relative to ``out``'s folder (or absolute when that is too far, see
    ``engine.data.relative_data_path``). Absolute paths, and every path when the folders are
    the same, are left as they are.
    """
    from engine.data import relative_data_path, resolve_path

    spec = project.data.get("dataset")
    if not isinstance(spec, dict):
        return
    old = project.base_dir.absolute() if project.base_dir is not None else Path.cwd()
    new = out.absolute().parent
    if old == new:
        return
    for key in DATA_PATH_KEYS:
        value = spec.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if Path(value).expanduser().is_absolute():
            continue
        spec[key] = relative_data_path(resolve_path(value, old), new)


def _default_output(project) -> Path:
    path = project.path
    if path is None:
        return Path("trained.nnd")
    return path.with_suffix(".nnd")


def _first_batch(project, graph, batch_size: int, dtype: str | None = None):
    from engine.training import load_training_data

    if dtype:
        project.data["dtype"] = dtype
    data = load_training_data(project, graph)
    w = None if data.sw_train is None else data.sw_train[:batch_size]
    return data.x_train[:batch_size], data.y_train[:batch_size], w


def cmd_parity(args) -> int:
    from engine.parity import parity_report

    if args.batch_size < 1:
        raise NNDError(f"--batch-size must be at least 1, got {args.batch_size}")
    report = parity_report(_load(args.project), batch_size=args.batch_size)
    print(report.text())
    return 0 if report.ok else 1


def cmd_trace(args) -> int:
    from engine.optimizers import is_perceptron
    from engine.training import build_model
    from engine.validate import check_project

    project = _load(args.project)
    graph = check_project(project)
    batch = 1 if is_perceptron(project) else (args.batch_size or project.fit["batch_size"])
    if batch < 1:
        raise NNDError(f"--batch-size must be at least 1, got {batch}")
    project.data["fit"] = dict(project.fit, shuffle=False)
    x, y, w = _first_batch(project, graph, batch)
    model = build_model(project, graph)
    events = list(model.trace_step(x, y, w))
    from engine.stepper import trace_document, write_trace_json

    doc = trace_document(project.name, len(x), model.optimizer_class, model.loss, events)
    write_trace_json(Path(args.output), doc)
    print(f"Wrote {len(events)} phases of one training step ({len(x)} samples) to {args.output}")
    return 0


def cmd_export(args) -> int:
    from engine.export import export_project
    from engine.validate import check_project

    project = _load(args.project)
    if args.from_point:
        from engine.runs import parse_point

        number, epoch = parse_point(args.from_point)
        if project.runs is None:
            raise NNDError("the project has no runs to export from; train it first")
        snap = project.runs.snapshot(number, epoch)
        # The run's own settings (its network, optimizer, fit) with its weights then.
        project.data.update(copy.deepcopy(project.runs.get(number).settings))
        project.weights = dict(snap.weights)
    # Validated here first (no data, no loss needed): the exporter reads the spec as valid.
    check_project(project, training=False)
    out = Path(args.output) if args.output else Path(args.project).with_suffix(".py")
    for path in export_project(project, out):
        print(f"Wrote {path}")
    return 0


def cmd_import(args) -> int:
    from engine.export import import_keras_model
    from engine.project import save_project

    out = Path(args.output) if args.output else Path(args.model).with_suffix(".nnd")
    project = import_keras_model(args.model, strict=args.strict)
    for warning in project.load_warnings:
        print(f"nndesigner: warning: {args.model}: {warning}", file=sys.stderr)
    if project.weights and out.suffix.lower() != ".nnd":
        raise NNDError(
            "the imported model has weights: write it to a .nnd file, which holds them "
            "(a .json project holds none)",
            str(out),
        )
    rebase_data_paths(project, out)
    save_project(project, out)
    print(f"Wrote {out}")
    return 0


def screenshot_size(text: str) -> tuple[int, int]:
    """``"1600x1000"`` -> ``(1600, 1000)``; each side within :data:`SCREENSHOT_SIDE`.

    Raises
    ------
    NNDError
        When ``text`` is not WIDTHxHEIGHT or a side is out of range.
    """
    lo, hi = SCREENSHOT_SIDE
    parts = text.strip().lower().split("x")
    digits = [p.strip() for p in parts]
    if len(digits) != 2 or not all(d.isascii() and d.isdigit() and len(d) < 7 for d in digits):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise NNDError(f"--size must look like 1600x1000 (WIDTHxHEIGHT in pixels), got {shown!r}")
    w, h = (int(d) for d in digits)
    if not (lo <= w <= hi and lo <= h <= hi):
        raise NNDError(f"--size: each side must be from {lo} to {hi} pixels, got {w}x{h}")
    return w, h


def cmd_screenshot(args, render_window: WindowRenderer | None = None) -> int:
    w, h = screenshot_size(args.size)
    if args.train_epochs < 0:
        raise NNDError(f"--train-epochs must be 0 or more, got {args.train_epochs}")
    if render_window is None:
        # The engine draws no window: the launcher above it brings the designer's renderer.
        raise NNDError("screenshot draws the app's window: run it as 'nndesigner screenshot'")
    try:
        render_window(args.project, args.output, (w, h), train_epochs=args.train_epochs)
    except OSError as exc:
        if exc.strerror:
            raise NNDError(f"could not be written: {exc.strerror}", args.output) from None
        raise NNDError(str(exc)) from None  # the renderer's own sentence names the file
    print(f"Saved {args.output}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "runs": runs_cli.cmd_runs,
    "summary": cmd_summary,
    "doctor": doctor_cli.cmd_doctor,
    "gradcheck": gradcheck_cli.cmd_gradcheck,
    "parity": cmd_parity,
    "trace": cmd_trace,
    "export": cmd_export,
    "import": cmd_import,
    "screenshot": cmd_screenshot,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``nndesigner gradcheck``: its arguments and its report (kept apart from cli.py's other
subcommands so that the numerics and their printout change together)."""

from __future__ import annotations

import math

from engine.errors import NNDError
from engine.gradcheck import FAIL, PASS, RTOL, SKIPPED, TOO_SMALL, LayerCheck

_RESULT_WORDS = {PASS: "ok", FAIL: "FAIL", TOO_SMALL: "too small to judge", SKIPPED: "skipped"}


def add_parser(sub) -> None:
    g = sub.add_parser("gradcheck", help="backprop vs central differences, per layer (float64)")
    g.add_argument("project")
    g.add_argument(
        "--batch-size", type=int, default=8, help="samples of the training split (default 8)"
    )
    g.add_argument(
        "--entries", type=int, default=24, help="entries checked per weight array (default 24)"
    )
    g.add_argument(
        "--tolerance",
        type=float,
        default=RTOL,
        help=f"relative tolerance, above an absolute floor set by the loss's round-off "
        f"(default {RTOL:g})",
    )


def check_options(batch_size: int, entries: int, tolerance: float) -> None:
    """Refuse options that cannot give a meaningful check.

    Raises
    ------
    NNDError
        Naming the option and the value at fault.
    """
    if batch_size < 1:
        raise NNDError(f"--batch-size must be at least 1, got {batch_size}")
    if entries < 1:
        raise NNDError(f"--entries must be at least 1, got {entries}")
    if not (math.isfinite(tolerance) and 0 < tolerance < 1):
        raise NNDError(
            f"--tolerance must be a number above 0 and below 1 (a relative error), "
            f"got {tolerance:g}"
        )


def report_lines(name: str, samples: int, checks: list[LayerCheck], tolerance: float) -> list[str]:
    """The printed report: a table of the weight arrays and a verdict line."""
    width = max([len(f"{c.layer}/{c.weight}") for c in checks] + [len("weight")])
    lines = [
        f"Gradient check of '{name}' on {samples} samples (float64, central differences with "
        "Richardson extrapolation)",
        f"{'weight'.ljust(width)}  checked  too small  kink  worst rel. error  "
        "worst abs. error  abs. floor  result",
    ]
    for c in checks:
        judged = c.judged > 0
        rel = f"{c.max_rel_error:16.3e}" if judged or math.isnan(c.max_rel_error) else f"{'-':>16}"
        err = f"{c.max_abs_error:16.3e}" if judged else f"{'-':>16}"
        lines.append(
            f"{f'{c.layer}/{c.weight}'.ljust(width)}  {c.checked:7d}  {c.too_small:9d}"
            f"  {c.skipped:4d}  {rel}  {err}  {c.floor:10.1e}  {_RESULT_WORDS[c.verdict]}"
        )
    verdicts = [c.verdict for c in checks]
    judged = [c for c in checks if c.verdict in (PASS, FAIL)]
    worst = max((c.max_rel_error for c in judged), default=0.0)
    if any(math.isnan(c.max_rel_error) for c in checks):
        worst = math.nan
    if FAIL in verdicts:
        lines.append(
            f"FAILED: largest relative error {worst:.3e} (tolerance {tolerance:g} above the "
            "absolute floor)" + ("; a loss or gradient is not finite" if math.isnan(worst) else "")
        )
    elif judged:
        small = sum(v == TOO_SMALL for v in verdicts)
        lines.append(
            f"PASSED: largest relative error {worst:.3e} (tolerance {tolerance:g} above the "
            "absolute floor)" + (f"; {small} weight array(s) too small to judge" if small else "")
        )
    elif TOO_SMALL in verdicts:
        lines.append(
            "TOO SMALL TO JUDGE: every gradient sits below the floor that the loss's round-off "
            "sets for central differences; nothing contradicts backprop (samples the network "
            "gets wrong give larger gradients: try a larger --batch-size)"
        )
    else:
        lines.append("NOTHING CHECKED: every perturbation crossed a kink (ReLU at 0 or the like)")
    return lines


def cmd_gradcheck(args) -> int:
    import numpy as np

    from engine.cli import _first_batch, _load
    from engine.gradcheck import gradient_check
    from engine.optimizers import is_perceptron
    from engine.training import build_model
    from engine.validate import check_project

    check_options(args.batch_size, args.entries, args.tolerance)
    project = _load(args.project)
    graph = check_project(project)
    if is_perceptron(project):
        raise NNDError("the Perceptron's 'sign' activation has no gradient to check")
    for node in graph.nodes:
        if node.activation == "sign":
            raise NNDError("the 'sign' activation has no gradient to check", f"layer '{node.name}'")
    project.data["fit"] = dict(project.fit, validation_split=0.0)
    x, y, _ = _first_batch(project, graph, args.batch_size, dtype="float64")
    model = build_model(project, graph, backend="numpy")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        checks = gradient_check(model, x, y, entries=args.entries, rtol=args.tolerance)
    for line in report_lines(project.name, len(x), checks, args.tolerance):
        print(line)
    return 1 if any(c.verdict == FAIL for c in checks) else 0

"""``nndesigner gradcheck``: its arguments and its report (kept apart from cli.py's other
subcommands so that the numerics and their printout change together)."""

from __future__ import annotations

from engine.errors import NNDError


def add_parser(sub) -> None:
    g = sub.add_parser("gradcheck", help="backprop vs central differences, per layer (float64)")
    g.add_argument("project")
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--entries", type=int, default=24, help="entries checked per weight array")
    g.add_argument("--tolerance", type=float, default=1e-6)


def cmd_gradcheck(args) -> int:
    from engine.cli import _first_batch, _load
    from engine.gradcheck import gradient_check
    from engine.training import build_model
    from engine.validate import check_project, optimizer_class

    project = _load(args.project)
    graph = check_project(project)
    if optimizer_class(project) == "Perceptron":
        raise NNDError("the Perceptron's 'sign' activation has no gradient to check")
    project.data["fit"] = dict(project.fit, validation_split=0.0)
    x, y = _first_batch(project, graph, max(1, args.batch_size), dtype="float64")
    model = build_model(project, graph, backend="numpy")
    checks = gradient_check(model, x, y, entries=args.entries)
    width = max(len(f"{c.layer}/{c.weight}") for c in checks) if checks else 10
    print(f"Gradient check of '{project.name}' on {len(x)} samples (float64, central differences)")
    print(f"{'weight'.ljust(width)}  max rel. error  checked  skipped (kink)  result")
    worst = 0.0
    for c in checks:
        ok = c.max_rel_error <= args.tolerance
        worst = max(worst, c.max_rel_error)
        print(
            f"{f'{c.layer}/{c.weight}'.ljust(width)}  {c.max_rel_error:14.3e}  {c.checked:7d}"
            f"  {c.skipped:14d}  {'ok' if ok else 'FAIL'}"
        )
    passed = worst <= args.tolerance
    print(
        f"{'PASSED' if passed else 'FAILED'}: largest relative error {worst:.3e} "
        f"(tolerance {args.tolerance:g})"
    )
    return 0 if passed else 1

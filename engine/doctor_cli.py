"""``nndesigner doctor PROJECT [--json] [--fix]``: the network doctor's findings (see
:mod:`engine.doctor`). Exit status 1 when there is an error-level finding, else 0; 2 when the
project cannot be read."""

from __future__ import annotations

import json

from engine.doctor import (
    ERROR,
    WARNING,
    Finding,
    apply_fix,
    counts_text,
    diagnose,
    has_error,
)
from engine.errors import DataError, NNDError


def add_parser(sub) -> None:
    d = sub.add_parser(
        "doctor", help="find what is wrong with a network before training, with fixes"
    )
    d.add_argument("project")
    d.add_argument("--json", action="store_true", help="the findings as JSON, fixes included")
    d.add_argument(
        "--fix",
        metavar="OUTPUT",
        help="apply every fix and write the mended project to OUTPUT (a .json or .nnd)",
    )


def load_data(project):
    """``(dataset, None)``, or ``(None, a finding)`` when the data cannot be read (an error)
    or are not downloaded yet (a warning); ``(None, None)`` without a dataset."""
    from engine.data import load_dataset

    if "dataset" not in project.data:
        return None, None
    from engine.data.builtin import NotCachedError
    from engine.graph import DTYPES

    # An invalid dtype is validation's to name (an error finding); the data load in float32.
    dtype = project.dtype if isinstance(project.dtype, str) and project.dtype in DTYPES else None
    try:
        return load_dataset(project.dataset, project.base_dir, dtype or "float32"), None
    except NotCachedError as exc:  # not wrong, not downloaded yet: the network is checked
        return None, Finding(
            WARNING,
            "data-not-cached",
            str(exc),
            "the data checks were left out: they need the data",
            None,
            "dataset",
        )
    except (DataError, ValueError) as exc:
        where = getattr(exc, "where", None)
        return None, Finding(
            ERROR,
            "data-unreadable",
            str(exc),
            "the data checks need the data" + (f" ({where})" if where else ""),
            None,
            "dataset",
        )


def findings_text(name: str, findings: list[Finding]) -> str:
    lines = [f"Doctor: '{name}': {counts_text(findings)}"]
    for f in findings:
        lines.append(f"{f.level:<8} {f.where()}: {f.message}")
        lines.append(f"{'':<8}   why: {f.why}")
        if f.fix is not None:
            lines.append(f"{'':<8}   fix: {f.fix.label}")
    return "\n".join(lines)


def _mend(project, findings: list[Finding], output: str) -> list[str]:
    """Apply every fix in turn (each on the result of the last); the labels applied."""
    from pathlib import Path

    from engine.project import save_project

    data, applied = project.data, []
    for f in findings:
        if f.fix is None:
            continue
        try:
            data = apply_fix(data, f.fix)
        except (KeyError, ValueError) as exc:  # an earlier fix removed its layer
            applied.append(f"skipped '{f.fix.label}': {exc}")
            continue
        applied.append(f.fix.label)
    project.data = data
    save_project(project, Path(output))
    return applied


def cmd_doctor(args) -> int:
    from engine.cli import _load

    project = _load(args.project)
    dataset, unreadable = load_data(project)
    findings = diagnose(project, dataset)
    if unreadable is not None:
        findings.insert(0, unreadable)
    if args.fix:
        for label in _mend(project, findings, args.fix):
            print(f"applied: {label}")
        findings = diagnose(project, dataset)
        print(f"Saved {args.fix}")
    if args.json:
        doc = {"project": project.name, "findings": [f.to_json() for f in findings]}
        try:
            print(json.dumps(doc, indent=1, allow_nan=False))
        except ValueError as exc:
            raise NNDError(f"a finding holds a value JSON cannot write: {exc}") from None
    else:
        print(findings_text(project.name, findings))
    return 1 if has_error(findings) else 0

"""The network doctor: what is wrong with a project before it trains, why, and a fix.

:func:`diagnose` runs every check on a project (and, when given, its loaded data) and returns
:class:`~engine.doctor.findings.Finding` s, errors first. Errors are what validation already
refuses (named with the same sentences) plus pairs that train on a meaningless loss; warnings
train, badly; hints are a better way. A finding's :class:`~engine.doctor.findings.Fix` is data
(:mod:`engine.edits` calls), applied with :func:`apply_fix`: ``nndesigner doctor --json``
prints it and the window's Doctor panel applies it as one undoable edit.
"""

from __future__ import annotations

import re

from engine.doctor.data_checks import data_findings
from engine.doctor.findings import (
    ERROR,
    HINT,
    LEVELS,
    WARNING,
    Finding,
    Fix,
    apply_fix,
    counts_text,
    fix,
    sort_findings,
)
from engine.doctor.optimizer_checks import optimizer_findings
from engine.doctor.output_checks import output_findings
from engine.doctor.structure_checks import structure_findings, unused_branch

__all__ = [
    "ERROR",
    "HINT",
    "LEVELS",
    "WARNING",
    "Finding",
    "Fix",
    "apply_fix",
    "counts_text",
    "diagnose",
    "has_error",
]

_SET_UNITS = re.compile(r"set units to (\d+)")


def _problem_finding(problem, code: str, why: str) -> Finding:
    """A validation problem as an error finding; "set units to k" becomes its fix."""
    the_fix = None
    match = _SET_UNITS.search(problem.message)
    if problem.layer and problem.field == "units" and match:
        k = int(match.group(1))
        the_fix = fix(
            f"Give '{problem.layer}' {k} units",
            ("set_param", {"layer": problem.layer, "key": "units", "value": k}),
        )
    return Finding(ERROR, code, problem.message, why, problem.layer, problem.field, the_fix)


def _validity(project, dataset) -> tuple[object, list[Finding]]:
    from engine.validate import data_fit_problems, project_problems

    graph, problems = project_problems(project)
    found: list[Finding] = []
    branch = unused_branch(project.data)
    if branch is not None:
        found.append(branch)
        problems = [p for p in problems if "have no consumer" not in p.message]
    found += [
        _problem_finding(p, "invalid", "validation refuses it: it cannot be built or trained")
        for p in problems
    ]
    if graph is not None and dataset is not None and not problems:
        try:
            fits = data_fit_problems(project, graph, dataset)
        except (ValueError, TypeError, AttributeError, IndexError):
            fits = []
        found += [
            _problem_finding(p, "data-fit", "training on these data fails or learns nothing")
            for p in fits
        ]
    return (graph if not problems else None), found


def diagnose(project, dataset=None) -> list[Finding]:
    """Every finding on ``project``, errors first.

    Parameters
    ----------
    project : engine.project.Project
    dataset : engine.data.Dataset, optional
        Its loaded data: the data checks and the output's width against the classes need
        them; without, only the network and the settings are checked.
    """
    graph, found = _validity(project, dataset)
    if graph is not None:
        codes = {f.code for f in found}
        found += [
            f
            for f in output_findings(project, graph, dataset)
            # the width is named once (validation says it with the data)
            if not (f.field == "units" and "data-fit" in codes and f.code != "two-unit-sigmoid")
        ]
        found += structure_findings(project, graph, dataset)
    found += optimizer_findings(project, graph)
    if dataset is not None:
        found += data_findings(project, graph, dataset)
    return sort_findings(found)


def has_error(findings: list[Finding]) -> bool:
    return any(f.level == ERROR for f in findings)

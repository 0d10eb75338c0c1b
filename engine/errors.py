"""One exception family with messages written for people.

Every error the engine raises on bad input derives from :class:`NNDError`. Its ``str()`` is a
complete, user-facing sentence naming what is wrong and where (file, layer, field, row).
The CLI prints it and exits 2; the GUI shows it inline or in a dialog.
"""

from __future__ import annotations


class NNDError(Exception):
    """Base of all user-facing engine errors.

    Parameters
    ----------
    message : str
        A complete sentence for the user.
    where : str, optional
        The place at fault (a file path, ``layer 'dense_1'``, ``row 12``...). When given, the
        message is prefixed with it.
    """

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ProjectError(NNDError):
    """A project file cannot be read, parsed or migrated."""


class ValidationError(NNDError):
    """The project is readable but describes an impossible network or settings.

    ``problems`` holds every problem found (each a :class:`Problem`), so that a GUI can
    highlight all of them at once; the message lists them all.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        text = "; ".join(str(p) for p in self.problems)
        if len(self.problems) > 1:
            text = f"{len(self.problems)} problems: {text}"
        super().__init__(text)


class Problem:
    """One validation problem: where it is (``layer``/``field``) and what it is."""

    __slots__ = ("layer", "field", "message")

    def __init__(self, message: str, layer: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.layer = layer
        self.field = field

    def __str__(self) -> str:
        if self.layer and self.field:
            return f"layer '{self.layer}', field '{self.field}': {self.message}"
        if self.layer:
            return f"layer '{self.layer}': {self.message}"
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message

    def __repr__(self) -> str:
        return f"Problem({self.message!r}, layer={self.layer!r}, field={self.field!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.message, self.layer, self.field) == (
            other.message,
            other.layer,
            other.field,
        )

    def __hash__(self) -> int:
        return hash((self.message, self.layer, self.field))


class DataError(NNDError):
    """A dataset or data file is missing, malformed or does not fit the network."""


class BackendUnavailableError(NNDError):
    """A backend (e.g. TensorFlow) is not installed or failed to import."""


class NonFiniteError(NNDError):
    """Training produced a non-finite loss or gradient.

    Attributes say where: ``epoch`` and ``step`` (1-based), and ``layer``, the first layer (in
    backward order) whose gradient or weights went non-finite, or None when the loss itself did.
    """

    exit_code = 3

    def __init__(self, epoch: int, step: int, layer: str | None, what: str) -> None:
        self.epoch = epoch
        self.step = step
        self.layer = layer
        self.what = what
        place = f" in layer '{layer}'" if layer else ""
        super().__init__(
            f"training stopped at epoch {epoch}, step {step}: {what}{place} became non-finite "
            "(NaN or inf). The last finite weights were kept. Usually a lower learning rate, "
            "gradient clipping or standardized inputs help."
        )


class ClusterError(NNDError):
    """A multi-worker training lost a peer: a worker died or stopped answering.

    ``epoch`` and ``step`` (1-based) say where; the weights are those after the previous step.
    Exit status 4: not bad input, and not a diverging run.
    """

    exit_code = 4

    def __init__(self, detail: str, epoch: int | None = None, step: int | None = None) -> None:
        self.detail = detail
        self.epoch = epoch
        self.step = step
        where = f"at epoch {epoch}, step {step}" if epoch is not None else "during training"
        super().__init__(
            f"training stopped {where}: a worker of the cluster stopped answering ({detail}). "
            "Every worker stops; start the same command on every worker again (add --from "
            "RUN:EPOCH to continue the saved run)."
        )

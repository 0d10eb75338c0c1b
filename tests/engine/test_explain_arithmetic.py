"""The math panel's arithmetic checks out: every displayed expression, evaluated from the numbers
as displayed, gives the value displayed beside it (to the displayed precision), and every
number read from the trace is the engine's own.

The expressions are read back from the text the panel shows (``parts_text`` of each line, the
strings the HTML is built from) and evaluated by the tiny parser below, never by Python's
``eval``. Each displayed number stands for the interval of values that round to it (four
significant digits for computed values, as :func:`engine.explain.fmt` writes them; shorter
numbers are hyper-parameters and counts written as set), and the evaluation is done in interval
arithmetic, so that cancellation in a sum cannot make a correct line fail nor hide a wrong one:
a line passes when the interval of its expression meets the interval of its displayed result.

Symbols defined earlier in the same explanation (``δ₁ = … = 0.4773``) are substituted where a
later line uses them (``∂L/∂b₁ = δ₁ = 0.4773``), which ties the sections together: the issue's
``∂L/∂ŷ₁ … = 1`` and ``∂L/∂a₁ = 1`` must agree with each other and with their formulas.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.activations import ACTIVATION_NAMES
from engine.explain import (
    Explanation,
    Num,
    Section,
    Sym,
    explain_neuron,
    explain_weight,
    fmt,
    fmt_param,
    lookup,
    parts_text,
)
from engine.graph import INPUT
from engine.losses import canonical_loss, is_mismatched
from engine.project import from_dict, load_project
from engine.stepper import StepSession

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"

# ----------------------------------------------------------------------------- intervals
_INF = math.inf


@dataclass(frozen=True)
class Iv:
    """A closed interval [lo, hi] of real numbers."""

    lo: float
    hi: float

    @staticmethod
    def point(v: float) -> Iv:
        return Iv(v, v)

    def __add__(self, o: Iv) -> Iv:
        return Iv(self.lo + o.lo, self.hi + o.hi)

    def __sub__(self, o: Iv) -> Iv:
        return Iv(self.lo - o.hi, self.hi - o.lo)

    def __neg__(self) -> Iv:
        return Iv(-self.hi, -self.lo)

    def __mul__(self, o: Iv) -> Iv:
        def m(a: float, b: float) -> float:
            return 0.0 if a == 0 or b == 0 else a * b  # an exact 0 times ∞ is 0

        ps = [m(a, b) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
        return Iv(min(ps), max(ps))

    def __truediv__(self, o: Iv) -> Iv:
        if self.lo == self.hi == 0 and not (o.lo == o.hi == 0):
            return Iv(0.0, 0.0)
        if o.lo <= 0 <= o.hi:
            return Iv(-_INF, _INF)  # the divisor may be 0: anything goes
        return self * Iv(1 / o.hi, 1 / o.lo)

    def power(self, n: int) -> Iv:
        if n == 0:
            return Iv(1.0, 1.0)
        if n < 0:
            return Iv(1.0, 1.0) / self.power(-n)
        a, b = self.lo**n, self.hi**n
        if n % 2 == 0 and self.lo <= 0 <= self.hi:
            return Iv(0.0, max(a, b))
        return Iv(min(a, b), max(a, b))

    def meets(self, o: Iv, rel: float, tiny: float = 0.0) -> bool:
        slack = rel * max(abs(self.lo), abs(self.hi), abs(o.lo), abs(o.hi))
        slack = (0.0 if math.isinf(slack) else slack) + tiny
        return self.lo - slack <= o.hi and o.lo - slack <= self.hi


def _safe(f, x: float) -> float:
    try:
        return f(x)
    except OverflowError:
        return _INF
    except ValueError:
        return math.nan


def _monotone(f, iv: Iv) -> Iv:
    a, b = _safe(f, iv.lo), _safe(f, iv.hi)
    return Iv(min(a, b), max(a, b))


def _sampled(f, iv: Iv, critical: tuple[float, ...] = ()) -> Iv:
    """Range of a non-monotone function over a (narrow) interval: endpoints, interior samples
    and the critical points that fall inside."""
    if math.isinf(iv.lo) or math.isinf(iv.hi):
        return Iv(-_INF, _INF)
    xs = [iv.lo + (iv.hi - iv.lo) * k / 32 for k in range(33)]
    xs += [c for c in critical if iv.lo <= c <= iv.hi]
    ys = [_safe(f, x) for x in xs]
    return Iv(min(ys), max(ys))


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _phi(x: float) -> float:  # the standard normal CDF
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


# Independent textbook definitions (Keras' constants), not the engine's code.
_MONOTONE = {
    "exp": math.exp,
    "exponential": math.exp,
    "tanh": math.tanh,
    "sigmoid": _sig,
    "relu": lambda x: max(x, 0.0),
    "leaky_relu": lambda x: x if x > 0 else 0.2 * x,
    "elu": lambda x: x if x > 0 else math.expm1(x),
    "selu": lambda x: _SELU_S * x if x > 0 else _SELU_S * _SELU_A * math.expm1(x),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + abs(x)),
    "hard_sigmoid": lambda x: min(max(x + 3, 0.0), 6.0) / 6,
    "linear": lambda x: x,
    "sign": lambda x: 1.0 if x > 0 else (-1.0 if x < 0 else 0.0),
    "relu′": lambda x: 1.0 if x > 0 else 0.0,
    "leaky_relu′": lambda x: 1.0 if x > 0 else 0.2,
    "softplus′": _sig,
    "hard_sigmoid′": lambda x: 1 / 6 if -3 < x < 3 else 0.0,
    "exponential′": math.exp,
    "linear′": lambda x: 1.0,
}
_OTHER = {
    "swish": (lambda x: x * _sig(x), (-1.2784645,)),
    "silu": (lambda x: x * _sig(x), (-1.2784645,)),
    "gelu": (lambda x: x * _phi(x), (-0.7517915,)),
    "sigmoid′": (lambda x: _sig(x) * (1 - _sig(x)), (0.0,)),
    "tanh′": (lambda x: 1 - math.tanh(x) ** 2, (0.0,)),
    "softsign′": (lambda x: 1 / (1 + abs(x)) ** 2, (0.0,)),
    "swish′": (lambda x: _sig(x) * (1 + x * (1 - _sig(x))), (-2.3994, 2.3994)),
    "silu′": (lambda x: _sig(x) * (1 + x * (1 - _sig(x))), (-2.3994, 2.3994)),
    "gelu′": (lambda x: _phi(x) + x * _pdf(x), (-math.sqrt(2), math.sqrt(2))),
    # At 0 exactly Keras' EluGrad/SeluGrad take the positive branch (the output is not < 0).
    "elu′": (lambda x: 1.0 if x >= 0 else math.exp(x), (0.0,)),
    "selu′": (lambda x: _SELU_S if x >= 0 else _SELU_S * _SELU_A * math.exp(x), (0.0,)),
}


def _log(x: float) -> float:
    return -_INF if x <= 0 else math.log(x)


def _sqrt(x: float) -> float:
    return math.sqrt(max(x, 0.0))


_UNARY = {**_MONOTONE, "log": _log, "√": _sqrt, "abs": abs}
FUNCTIONS = set(_UNARY) | set(_OTHER) | {"max", "min"}


def apply(name: str, args: list[Iv]) -> Iv:
    if name in ("max", "min"):
        if len(args) < 2:
            raise ParseError(f"{name} takes two or more arguments")
        f = max if name == "max" else min
        return Iv(f(a.lo for a in args), f(a.hi for a in args))
    if len(args) != 1:
        raise ParseError(f"{name} takes one argument")
    (x,) = args
    if name == "abs":
        if x.lo <= 0 <= x.hi:
            return Iv(0.0, max(-x.lo, x.hi))
        return _monotone(abs, x)
    if name in _OTHER:
        f, crit = _OTHER[name]
        return _sampled(f, x, crit)
    if name == "√" and x.hi < 0:
        raise ParseError("square root of a negative number")
    return _monotone(_UNARY[name], x)


# ----------------------------------------------------------------------------- numbers
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:×10[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")


def number_interval(text: str) -> Iv:
    """The values that the panel would write as ``text``.

    Computed values are written with four significant digits (trailing zeros kept), so a
    number with fewer digits is a hyper-parameter or count written as set (to six significant
    digits, :func:`fmt_param`), and a whole number of fewer than four digits is exact.
    """
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:×10([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
    if m is None:
        raise ParseError(f"not a number: {text!r}")
    whole, frac, exp = m.group(1), m.group(2) or "", m.group(3)
    e10 = int(exp.translate(_SUPER)) if exp else 0
    value = float(f"{whole}.{frac or '0'}e{e10}")
    if value == 0:
        return Iv.point(0.0)
    digits = (whole + frac).lstrip("0")
    if not frac and not exp and len(digits) < 4:
        return Iv.point(value)
    sig = len(digits)
    if sig < 4:
        sig = 6
    half = 0.5 * 10.0 ** (math.floor(math.log10(value)) - sig + 1)
    return Iv(value - half, value + half)


# ----------------------------------------------------------------------------- the parser
class ParseError(ValueError):
    """The text is not arithmetic this parser understands (a test failure)."""


class Symbolic(Exception):
    """The text names a symbol with no value here: a formula, not arithmetic."""


class Incomplete(Exception):
    """The text leaves terms out ("… (10 more terms)")."""


IDENT = re.compile(
    r"(?:∂L/∂)?[^\W\d_]+\u0302?(?:[0-9₀-₉]|,(?=[0-9₀-₉]))*′?|∂L/∂[^\W\d_]*(?:[0-9₀-₉]|,(?=[0-9₀-₉]))*"
)
_OPS = "+−-·×/^()[]|,√"


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: ``num``, ``sup`` (a superscript exponent), ``id``, ``op``."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "…":
            raise Incomplete(text)
        m = NUMBER.match(text, i)
        if m:
            out.append(("num", m.group(0)))
            i = m.end()
            continue
        m = re.compile(r"[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+").match(text, i)
        if m:
            out.append(("sup", m.group(0)))
            i = m.end()
            continue
        m = IDENT.match(text, i)
        if m and m.group(0):
            out.append(("id", m.group(0)))
            i = m.end()
            continue
        if ch in _OPS:
            out.append(("op", "−" if ch == "-" else ch))
            i += 1
            continue
        raise Symbolic(f"{ch!r} in {text!r}")
    return out


def normal_name(name: str) -> str:
    """A symbol's name with its subscript digits as plain digits (the HTML view renders
    subscripts as markup, its plain text as digits)."""
    return name.translate(_SUB)


class Parser:
    """expr := term (± term)* ; term := unary ((·|×|/) unary)* ; unary := −unary | power ;
    power := postfix (^ unary)? ; postfix := primary superscript* ; primary := number |
    (expr) | [expr] | |expr| | √postfix | f(args) | f postfix | e^… | a known symbol."""

    def __init__(self, text: str, symbols: dict[str, Iv]) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.pos = 0
        self.symbols = symbols
        for kind, tok in self.toks:
            if kind != "id" or tok in FUNCTIONS:
                continue
            if tok == "e" or normal_name(tok) in symbols:
                continue
            raise Symbolic(tok)

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (want is not None and tok[1] != want):
            raise ParseError(f"expected {want or 'more'} at token {self.pos} of {self.text!r}")
        self.pos += 1
        return tok

    def parse(self) -> Iv:
        value = self.expr()
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()!r} in {self.text!r}")
        return value

    def expr(self) -> Iv:
        value = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "−"):
            self.take()
            value = value + self.term() if tok[1] == "+" else value - self.term()
        return value

    def term(self) -> Iv:
        value = self.unary()
        while (tok := self.peek()) is not None and tok[1] in ("·", "×", "/"):
            self.take()
            value = value / self.unary() if tok[1] == "/" else value * self.unary()
        return value

    def unary(self) -> Iv:
        tok = self.peek()
        if tok is not None and tok[1] in ("−", "+"):
            self.take()
            value = self.unary()
            return -value if tok[1] == "−" else value
        return self.power()

    def power(self) -> Iv:
        tok = self.peek()
        if (
            tok == ("id", "e")
            and self.pos + 1 < len(self.toks)
            and self.toks[self.pos + 1][1] == "^"
        ):
            self.take()
            self.take("^")
            return apply("exp", [self.unary()])
        base = self.postfix()
        if (tok := self.peek()) is not None and tok[1] == "^":
            self.take()
            exponent = self.unary()
            if exponent.lo != exponent.hi or exponent.lo != int(exponent.lo):
                # a real power of a positive base (Ftrl's n^p): monotone in base and exponent
                if base.lo <= 0 or exponent.lo < 0:
                    raise ParseError(f"non-integer power of a non-positive base in {self.text!r}")
                corners = [a**e for a in (base.lo, base.hi) for e in (exponent.lo, exponent.hi)]
                return Iv(min(corners), max(corners))
            return base.power(int(exponent.lo))
        return base

    def postfix(self) -> Iv:
        value = self.primary()
        while (tok := self.peek()) is not None and tok[0] == "sup":
            self.take()
            value = value.power(int(tok[1].translate(_SUPER)))
        return value

    def primary(self) -> Iv:
        kind, tok = self.take()
        if kind == "num":
            return number_interval(tok)
        if tok in ("(", "["):
            value = self.expr()
            self.take(")" if tok == "(" else "]")
            return value
        if tok == "|":
            value = self.expr()
            self.take("|")
            return apply("abs", [value])
        if tok == "√":
            return apply("√", [self.postfix()])
        if kind == "id" and tok in FUNCTIONS:
            if self.peek() == ("op", "("):
                self.take("(")
                args = [self.expr()]
                while self.peek() == ("op", ","):
                    self.take(",")
                    args.append(self.expr())
                self.take(")")
                return apply(tok, args)
            return apply(tok, [self.postfix()])
        if kind == "id" and normal_name(tok) in self.symbols:
            return self.symbols[normal_name(tok)]
        raise ParseError(f"unexpected {tok!r} in {self.text!r}")


def evaluate(text: str, symbols: dict[str, Iv] | None = None) -> Iv:
    """The interval of values of an arithmetic text as the panel prints it."""
    return Parser(text, symbols or {}).parse()


# ----------------------------------------------------------------------------- the checker
@dataclass
class Chain:
    """One equation chain as displayed: ``lhs op link₁ = link₂ = … = result``."""

    lhs: str
    op: str
    links: list[str]


@dataclass
class Report:
    checked: int = 0
    symbolic: int = 0
    incomplete: int = 0
    failures: list[str] | None = None

    def __post_init__(self) -> None:
        self.failures = []


def chains_of(exp: Explanation) -> list[Chain]:
    """The chains of an explanation, from the texts it displays (``parts_text`` of each line,
    which is what its plain text and its HTML are made of)."""
    out: list[Chain] = []
    for sec in exp.sections:
        for ln in sec.lines:
            if not ln.lhs and not ln.rhs:
                continue  # a remark
            if ln.lhs:
                out.append(Chain(parts_text(ln.lhs), ln.op, [parts_text(ln.rhs)]))
            else:
                out[-1].links.append(parts_text(ln.rhs))
    return out


#: float32's smallest normal number: below it the engine's values lose precision or become 0
#: (sigmoid(−122) is 9×10⁻⁵⁴, and 0 in float32).
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def check_chains(chains: list[Chain], rel: float = 2e-6, tiny: float = FLOAT32_TINY) -> Report:
    """Evaluate every arithmetic link of every chain against the chain's displayed result.

    ``rel`` is a relative slack for the engine's own rounding (float32 at worst), far below the
    displayed precision; ``tiny`` an absolute one for values float32 cannot hold.
    """
    rep = Report()
    symbols: dict[str, Iv] = {}
    for chain in chains:
        pieces = [p.strip() for link in chain.links for p in link.split(" = ")]
        result_text = pieces[-1]
        try:
            result = evaluate(result_text)
        except (Symbolic, Incomplete, ParseError):
            result = None
        if result is not None and len(tokenize(result_text)) > 2:
            result = None  # the chain ends in an expression, not a value
        for piece in pieces[:-1]:
            if result is None:
                break
            try:
                # Within an update (←) the symbols mean their old values: no substitution.
                value = evaluate(piece, symbols if chain.op == "=" else {})
            except Symbolic:
                rep.symbolic += 1
                continue
            except Incomplete:
                rep.incomplete += 1
                continue
            except ParseError as exc:
                rep.failures.append(f"{chain.lhs} {chain.op} {piece}: cannot parse ({exc})")
                continue
            rep.checked += 1
            if not value.meets(result, rel, tiny):
                rep.failures.append(
                    f"{chain.lhs} {chain.op} {piece} is [{value.lo:.6g}, {value.hi:.6g}], "
                    f"but the panel shows {result_text}"
                )
        if result is not None and chain.op == "=" and IDENT.fullmatch(chain.lhs):
            symbols[normal_name(chain.lhs)] = result
    return rep


def check_trace_numbers(session: StepSession, exp: Explanation) -> int:
    """Every number read from the trace is written from the engine's own value."""
    count = 0
    for num in exp.numbers():
        if num.source is None:
            continue
        value = lookup(session, num.source)
        assert num.value == float(value), (num, value)
        assert num.text().strip("()") == (fmt_param if num.param else fmt)(value), num
        count += 1
    return count


def check(session: StepSession, exp: Explanation) -> Report:
    check_trace_numbers(session, exp)
    rep = check_chains(chains_of(exp))
    assert not rep.failures, "\n".join(rep.failures) + "\n\n" + exp.text()
    return rep


# ----------------------------------------------------------------------------- the evaluator
@pytest.mark.parametrize(
    "text,value",
    [
        ("0.3 × (−1.2) + 0.5", 0.14),
        ("0.2739·0.3071 + (−0.5)·2", 0.08411469 - 1.0),
        ("1.000×10⁻³·2", 2e-3),
        ("(−0.5425)² − 0", 0.29430625),
        ("0.01·√(1 − 0.999¹) / (1 − 0.9¹)", 0.01 * math.sqrt(0.001) / 0.1),
        ("√(4.244×10⁻⁶) + 1×10⁻⁷", math.sqrt(4.244e-6) + 1e-7),
        ("e^1.788 / (e^1.788 + e^1.831 + e^(−0.1610))", 0.45750),
        ("−log 0.4575", -math.log(0.4575)),
        ("−[1·log 0.5950 + (1 − 1)·log(1 − 0.5950)]", -math.log(0.595)),
        ("max(0.3845, 0) − 0.3845·1 + log(1 + e^(−0.3845))", math.log1p(math.exp(-0.3845))),
        ("sign(0.2 − 1) / (2·3)", -1 / 6),
        ("|0.2 − 1|", 0.8),
        ("tanh(0.5)", math.tanh(0.5)),
        ("relu′(−0.2)", 0.0),
        ("gelu(1.5)", 1.5 * _phi(1.5)),
        ("elu′(−1)", math.exp(-1)),
        ("2 ^ 3", 8.0),
    ],
)
def test_the_evaluator_reads_the_panels_arithmetic(text, value):
    iv = evaluate(text)
    assert iv.lo - 1e-12 <= value <= iv.hi + 1e-12, (iv, value)
    assert iv.hi - iv.lo <= 1e-3 * max(1.0, abs(value))


def test_numbers_stand_for_what_rounds_to_them():
    assert number_interval("0.3071") == Iv(0.30705, 0.30715)
    assert number_interval("2") == Iv(2.0, 2.0)  # counts, labels and masks are exact
    lo, hi = number_interval("1.810×10⁻⁵").lo, number_interval("1.810×10⁻⁵").hi
    assert lo == pytest.approx(1.8095e-5) and hi == pytest.approx(1.8105e-5)
    assert number_interval("0.9").hi - 0.9 == pytest.approx(5e-7)  # a hyper-parameter
    assert number_interval("1234").hi == 1234.5  # four digits: rounded


@pytest.mark.parametrize(
    "text", ["__import__('os')", "0.3 + ", "(0.3", "2 3", "max(1)", "0.3 ; 1", "√(−4)"]
)
def test_the_evaluator_refuses_what_is_not_arithmetic(text):
    with pytest.raises((ParseError, Symbolic)):
        evaluate(text)


def test_symbols_are_formulas_and_ellipses_are_incomplete():
    with pytest.raises(Symbolic):
        evaluate("2(ŷ − y) / (n·k)")
    with pytest.raises(Incomplete):
        evaluate("0.1·2 + … (10 more terms) + 0")
    assert evaluate("δ₁·2", {"δ1": Iv(1.0, 1.0)}) == Iv(2.0, 2.0)


def test_the_checker_catches_a_line_that_contradicts_itself():
    ok = Chain("z₁", "=", ["w₁·x₁ + b₁", "0.3 × (−1.2) + 0.5", "0.1400"])
    assert check_chains([ok]).checked == 1 and not check_chains([ok]).failures
    bad = Chain("z₁", "=", ["0.3 × (−1.2) + 0.5", "0.1500"])
    assert check_chains([bad]).failures
    # The issue's panel: a non-target unit's gradient written from −y/(ŷ·n) but shown as 1,
    # then carried into the backward pass.
    old = [
        Chain("ŷ₂", "=", ["0.4773"]),
        Chain("∂L/∂ŷ₂", "=", ["−y / (ŷ·n)", "−0 / (0.4773·1)", "1"]),
    ]
    assert check_chains(old).failures
    carried = [
        Chain("∂L/∂ŷ₂", "=", ["0"]),
        Chain("∂L/∂a₂", "=", ["∂L/∂ŷ₂", "1"]),
    ]
    assert check_chains(carried).failures


# ----------------------------------------------------------------------------- sessions
def _digits_stand_in(project, n_classes: int, n: int = 12):
    """A small in-memory data set in the project's input shape (the MNIST and Fashion-MNIST
    examples need the Keras cache, which is not here)."""
    from engine.training import TrainingData

    rng = np.random.default_rng(0)
    shape = tuple(int(d) for d in project.data["model"]["input_shape"])
    x = rng.uniform(0, 1, (n, *shape)).astype(project.dtype)
    y = (np.arange(n) % n_classes).astype(np.int64)
    return TrainingData(x, y, None, None)


def _session(name: str, batch_size: int) -> StepSession:
    project = load_project(EXAMPLES / name)
    data = None
    if project.dataset.get("name") in ("mnist", "fashion_mnist"):
        data = _digits_stand_in(project, 10)
    return StepSession(project, batch_size=batch_size, data=data)


def _units(session: StepSession, layer: str, sample: int) -> list[int]:
    """A few units of a layer: the first, the second, the last, and for the output layer the
    sample's class and a class that is not."""
    node = session.graph.by_name[layer]
    size = int(np.prod(node.output_shape))
    units = {0, min(1, size - 1), size - 1}
    if layer == session.graph.output and session.loss_name == "sparse_categorical_crossentropy":
        label = int(session.batch_y[sample])
        units |= {label, (label + 1) % size}
    return sorted(units)


def _walk(session: StepSession, samples: list[int]) -> Report:
    """Check every explanation of a few units and weights at every phase of the step."""
    session.run_to_end()
    total = Report()
    for phase in range(session.total_phases):
        for sample in samples:
            items = [explain_neuron(session, INPUT, sample, 0, phase=phase)]
            for node in session.graph.nodes:
                for u in _units(session, node.name, sample):
                    items.append(explain_neuron(session, node.name, sample, u, phase=phase))
                if node.class_name == "Dense" and node.name in session.model.weights:
                    fan_in = node.input_shapes[0][-1]
                    for i, j in {(0, 0), (fan_in - 1, node.output_shape[-1] - 1)}:
                        items.append(explain_weight(session, node.name, i, j, sample, phase))
            for exp in items:
                rep = check(session, exp)
                total.checked += rep.checked
                total.symbolic += rep.symbolic
                total.incomplete += rep.incomplete
    return total


EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLE_FILES)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_every_example_panel_adds_up_at_every_phase(name, batch_size):
    session = _session(name, batch_size)
    samples = sorted({0, len(session.batch_x) - 1})
    first = _walk(session, samples)
    assert first.checked > 10
    session.next_step()  # the second step: the optimizer's slots are not zero any more
    assert _walk(session, samples).checked > 10


def test_the_issues_non_target_softmax_unit_is_consistent():
    """iris: softmax + sparse categorical crossentropy. For a class that is not the sample's,
    Keras' loss −log(ŷₜ/Σŷ) still has a gradient 1/(Σŷ·n) with respect to that ŷ: the formula
    shown must say so and give the number shown (and the engine's)."""
    session = _session("iris.json", 1)
    session.run_to_end()
    label = int(session.batch_y[0])
    other = (label + 1) % 3
    out = session.graph.output
    grad = session.phases[session.position("loss")].data["grad"]
    a = session.phases[session.position("forward", out)].data["a"]
    for unit in (label, other):
        exp = explain_neuron(session, out, 0, unit)
        rep = check(session, exp)
        loss = exp.section("loss")
        chain = next(c for c in chains_of(Explanation("", "", [loss])) if c.lhs.startswith("∂L/∂ŷ"))
        numeric = [lk for lk in chain.links[:-1] if _is_arithmetic(lk)]
        assert numeric, chain  # the formula is worked out with the numbers
        # Keras' renormalised crossentropy: (1/Σŷ − y/ŷ)/n.
        y = 1.0 if unit == label else 0.0
        expected = 1 / float(np.sum(a[0])) - y / float(a[0, unit])
        assert float(grad[0, unit]) == pytest.approx(expected, rel=1e-5)
        assert chain.links[-1] == fmt(grad[0, unit])
        back = exp.section("backward")
        text = "\n".join(ln.text() for ln in back.lines)
        assert f"∂L/∂a{chr(0x2080 + unit + 1)} = ∂L/∂ŷ{chr(0x2080 + unit + 1)}" in text
        assert rep.checked >= 5
    assert fmt(grad[0, other]) == "1"


def _is_arithmetic(text: str) -> bool:
    try:
        evaluate(text)
    except (Symbolic, Incomplete, ParseError):
        return False
    return True


# ----------------------------------------------------------------------------- every loss
def _layer(cls, name, **config):
    return {"class_name": cls, "config": {"name": name, **config}}


def _project(layers, loss, optimizer="adam", dataset=None, input_shape=(2,), dtype="float32"):
    return from_dict(
        {
            "format_version": 1,
            "name": "arithmetic",
            "model": {"input_shape": list(input_shape), "layers": layers},
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": []},
            "fit": {"batch_size": 4, "validation_split": 0.0, "shuffle": False, "seed": 5},
            "dataset": dataset or {"name": "moons", "n_samples": 40},
            "dtype": dtype,
        }
    )


# Every loss with the output activations it goes with (and some it is used with by mistake):
# the fused pairs (a softmax or sigmoid output with any crossentropy, the mismatched ones among
# them) and the unfused ones.
LOSS_CASES = [
    ("mean_squared_error", "linear", 2),
    ("mean_squared_error", "sigmoid", 1),
    ("mean_squared_error", "softmax", 2),
    ("mean_absolute_error", "linear", 2),
    ("mean_absolute_error", "tanh", 1),
    ("hinge", "tanh", 1),
    ("hinge", "linear", 2),
    ("binary_crossentropy", "sigmoid", 1),
    ("binary_crossentropy", "sigmoid", 2),
    ("binary_crossentropy", "hard_sigmoid", 1),
    ("binary_crossentropy", "softmax", 2),
    ("categorical_crossentropy", "softmax", 2),
    ("categorical_crossentropy", "sigmoid", 2),
    ("sparse_categorical_crossentropy", "softmax", 2),
    ("sparse_categorical_crossentropy", "sigmoid", 2),
    ("sparse_categorical_crossentropy", "relu", 2),
    ("huber", "linear", 2),
    ({"class_name": "Huber", "config": {"delta": 0.05}}, "linear", 2),
    ("log_cosh", "tanh", 2),
    ("mean_squared_logarithmic_error", "softplus", 2),
    ("mean_absolute_percentage_error", "linear", 2),
    ("squared_hinge", "tanh", 2),
    ("poisson", "softplus", 2),
    ("kl_divergence", "softmax", 2),
    ("categorical_hinge", "linear", 2),
    ("cosine_similarity", "linear", 2),
    ({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}, "linear", 2),
    ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, "linear", 2),
    (
        {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}},
        "linear",
        2,
    ),
    (
        {"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.2}},
        "softmax",
        2,
    ),
    ({"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 0.2}}, "sigmoid", 2),
    ({"class_name": "MeanSquaredError", "config": {"reduction": "sum"}}, "linear", 2),
    ("binary_focal_crossentropy", "sigmoid", 2),
    ("binary_focal_crossentropy", "sigmoid", 1),
    ("binary_focal_crossentropy", "hard_sigmoid", 2),
    ("binary_focal_crossentropy", "softmax", 2),
    (
        {
            "class_name": "BinaryFocalCrossentropy",
            "config": {"apply_class_balancing": True, "gamma": 1.5, "label_smoothing": 0.1},
        },
        "sigmoid",
        2,
    ),
    ({"class_name": "BinaryFocalCrossentropy", "config": {"from_logits": True}}, "linear", 2),
    ("categorical_focal_crossentropy", "softmax", 2),
    (
        {"class_name": "CategoricalFocalCrossentropy", "config": {"from_logits": True}},
        "linear",
        2,
    ),
    (
        {"class_name": "CategoricalFocalCrossentropy", "config": {"gamma": 3.0, "alpha": 0.5}},
        "softmax",
        2,
    ),
    (
        {"class_name": "SparseCategoricalCrossentropy", "config": {"reduction": "sum"}},
        "softmax",
        2,
    ),
]


@pytest.mark.parametrize("loss,activation,units", LOSS_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_loss_and_output_activation_adds_up(loss, activation, units, dtype):
    layers = [
        _layer("Dense", "h", units=3, activation="tanh"),
        _layer("Dense", "out", units=units, activation=activation),
    ]
    session = StepSession(_project(layers, loss, dtype=dtype), batch_size=3)
    for _step in range(2):
        session.run_to_end()
        for sample in range(3):
            for u in range(units):
                for phase in range(session.total_phases):
                    check(session, explain_neuron(session, "out", sample, u, phase=phase))
                check(session, explain_neuron(session, "h", sample, u))
            check(session, explain_weight(session, "out", 2, units - 1, sample))
        exp = explain_neuron(session, "out", 1, units - 1)
        # On a mismatched pair Keras scores p = softmax(z) or sigmoid(z), shown as such.
        h = "p" if is_mismatched(activation, canonical_loss(loss)) else "ŷ"
        chain = next(c for c in chains_of(exp) if c.lhs.startswith(f"∂L/∂{h}"))
        # The gradient from the loss is worked out with numbers unless Keras' clip stops it
        # (or the hinge's margin is met).
        stopped = len(chain.links) == 1
        assert stopped or any(_is_arithmetic(lk) for lk in chain.links[:-1]), chain
        session.next_step()


# Every activation a hidden layer can have (softmax mixes units; sign has no gradient).
HIDDEN = [a for a in ACTIVATION_NAMES if a not in ("softmax", "sign")]


@pytest.mark.parametrize("activation", HIDDEN)
def test_every_hidden_activation_and_its_derivative_add_up(activation):
    layers = [
        _layer("Dense", "h", units=4, activation=activation),
        _layer("Dense", "out", units=1, activation="sigmoid"),
    ]
    session = StepSession(_project(layers, "binary_crossentropy"), batch_size=2)
    session.run_to_end()
    checked = 0
    for u in range(4):
        exp = explain_neuron(session, "h", 1, u)
        checked += check(session, exp).checked
        if activation != "linear":
            shown = "− log Σₖ e^zₖ" if activation == "log_softmax" else f"{activation}("
            assert shown in exp.text() or activation in ("tanh", "sigmoid")
    assert checked >= 4 * 5


OPTIMIZERS = [
    {"class_name": "SGD", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01}},
    {"class_name": "RMSprop", "config": {"momentum": 0.5, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "clipnorm": 0.01}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01, "weight_decay": 0.1}},
    {
        "class_name": "SGD",
        "config": {
            "learning_rate": {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.2, "decay_steps": 2, "decay_rate": 0.5},
            },
            "momentum": 0.5,
            "weight_decay": 0.1,
        },
    },
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.2}},
    {"class_name": "Adadelta", "config": {"learning_rate": 1.0}},
    {"class_name": "Adamax", "config": {"learning_rate": 0.01}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01}},
    {"class_name": "Lion", "config": {"learning_rate": 0.001}},
    {"class_name": "Ftrl", "config": {"learning_rate": 0.1}},
    {
        "class_name": "Ftrl",
        "config": {
            "learning_rate": 0.1,
            "learning_rate_power": -0.7,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 0.01,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.5,
        },
    },
]


@pytest.mark.parametrize(
    "optimizer", OPTIMIZERS, ids=lambda o: o["class_name"] + str(sorted(o["config"].items()))
)
def test_every_optimizer_update_adds_up(optimizer):
    layers = [
        _layer("Dense", "h", units=3, activation="relu"),
        _layer("Dense", "out", units=3, activation="softmax"),
    ]
    project = _project(layers, "sparse_categorical_crossentropy", optimizer, dtype="float64")
    session = StepSession(project, batch_size=2)
    for _step in range(3):  # the later steps start from non-zero slots
        session.run_to_end()
        update = 0
        for i, j in ((0, 0), (1, 2), (2, 1)):
            exp = explain_weight(session, "out", i, j, sample=1)
            before = check_chains(chains_of(Explanation("", "", [exp.section("update")])))
            update += before.checked
            check(session, exp)
        for j in range(3):
            check(session, explain_neuron(session, "out", 0, j))
        assert update >= 3  # at least the update line of each weight
        session.next_step()


def test_a_wrong_number_in_a_real_explanation_is_caught():
    """The check can fail: change one displayed number of a real explanation."""
    session = _session("xor.json", 2)
    session.run_to_end()
    exp = explain_neuron(session, "hidden", 1, 0)
    assert not check_chains(chains_of(exp)).failures
    sec: Section = exp.section("forward")
    line = next(ln for ln in sec.lines if ln.lhs and parts_text(ln.lhs) == "z₁")
    k = sec.lines.index(line) + 1  # the line with the numbers
    rhs = sec.lines[k].rhs
    pos = next(p for p, part in enumerate(rhs) if isinstance(part, Num))
    old = rhs[pos]
    rhs[pos] = Num(old.value + 0.01, old.exact, old.source, old.paren)
    assert check_chains(chains_of(exp)).failures
    # And a symbol used later with another value than it was given.
    rhs[pos] = old
    tail = Section("t", "update")
    tail.add([Sym("g")], ["δ₁"], [Num(123.0, "123.0")])
    exp.sections.append(tail)
    assert check_chains(chains_of(exp)).failures


SATURATED = [
    ("binary_crossentropy", "hard_sigmoid", 1),
    ("binary_crossentropy", "sigmoid", 1),
    ("categorical_crossentropy", "sigmoid", 2),
    ("categorical_crossentropy", "softmax", 2),
    ("sparse_categorical_crossentropy", "relu", 2),
    ("sparse_categorical_crossentropy", "sigmoid", 2),
]


@pytest.mark.parametrize("loss,activation,units", SATURATED)
def test_outputs_beyond_keras_clip_are_explained_consistently(loss, activation, units):
    """Saturated outputs (ŷ = 0 or 1 in float32, beyond Keras' clip to [10⁻⁷, 1 − 10⁻⁷]): the
    gradient the panel shows is the engine's (0 where the clip stops it) and every line still
    adds up."""
    big = {"class_name": "RandomNormal", "config": {"stddev": 60.0, "seed": 1}}
    layers = [
        _layer("Dense", "h", units=3, activation="tanh", kernel_initializer="ones"),
        _layer("Dense", "out", units=units, activation=activation, kernel_initializer=big),
    ]
    session = StepSession(_project(layers, loss), batch_size=4)
    session.run_to_end()
    a = session.phases[session.position("forward", "out")].data["a"]
    assert np.any((a < 1e-7) | (a > 1 - 1e-7)), a  # the case is the one meant
    notes = 0
    for sample in range(4):
        for u in range(units):
            exp = explain_neuron(session, "out", sample, u)
            check(session, exp)
            notes += "clip" in exp.text()
    assert notes


# ----------------------------------------------------------------------------- regularizers
REGULARIZED = [
    ({"class_name": "L2", "config": {"l2": 0.05}}, {"class_name": "L1", "config": {"l1": 0.02}}),
    ({"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.03}}, "l2"),
    ({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.5}}, None),
]


@pytest.mark.parametrize(("kernel", "bias"), REGULARIZED, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_regularized_weights_gradient_adds_up(kernel, bias, dtype):
    """∂L/∂w = the data's Σ x·δ plus the regularizer's ∂R/∂w, each line checked; the loss
    section adds the penalties to the data's loss."""
    if dtype == "float64" and "Orthogonal" in str(kernel):
        pytest.skip("Keras' OrthogonalRegularizer runs on float32 only")
    rules = {"kernel_regularizer": kernel, "bias_regularizer": bias}
    layers = [
        _layer("Dense", "h", units=3, activation="tanh", activity_regularizer="l2"),
        _layer("Dense", "out", units=2, activation="softmax", **rules),
    ]
    project = _project(layers, "sparse_categorical_crossentropy", "sgd", dtype=dtype)
    session = StepSession(project, batch_size=3)
    for _step in range(2):
        session.run_to_end()
        exp = explain_weight(session, "out", 1, 1, sample=0)
        rep = check(session, exp)
        texts = [parts_text(line.lhs) for line in exp.section("backward").lines]
        assert any(t.startswith("∂R/∂") for t in texts), texts
        assert rep.checked >= 4
        for u in range(2):
            out = explain_neuron(session, "out", 0, u)
            check(session, out)
            assert any(parts_text(line.lhs) == "L + R" for line in out.section("loss").lines)
        check(session, explain_neuron(session, "h", 1, 2))
        session.next_step()


@pytest.mark.parametrize("class_name", ["LeakyReLU", "ELU", "Softmax", "PReLU"])
def test_the_activation_layers_panels_add_up(class_name):
    """Every unit of each case network of Keras' activation layers, at every phase."""
    import json

    cases = json.loads(
        (Path(__file__).resolve().parents[1] / "layer_cases" / f"{class_name}.json").read_text()
    )["cases"]
    from engine.graph import build_graph
    from engine.training import TrainingData

    rng = np.random.default_rng(4)
    for case in cases:
        project = _project(
            case["layers"], case["loss"], "sgd", input_shape=tuple(case["input_shape"])
        )
        width = build_graph(project).output_shape[-1]
        x = rng.normal(size=(6, *case["input_shape"]))
        labels = np.arange(6) % width
        y = {
            "mean_squared_error": rng.normal(size=(6, width)),
            "binary_crossentropy": (labels % 2).reshape(-1, 1).astype(float),
            "categorical_crossentropy": np.eye(width)[labels],
        }.get(case["loss"], labels)
        session = StepSession(project, batch_size=2, data=TrainingData(x, y, None, None))
        report = _walk(session, [0, 1])
        assert report.checked > 10


# class_weight weighs each sample's loss and gradient: the fused pairs' δ, the unfused
# ∂L/∂ŷ, the mean and the sum reductions, and Keras' mean_with_sample_weight.
WEIGHTED_CASES = [
    ("sparse_categorical_crossentropy", "softmax", 2),
    ("categorical_crossentropy", "softmax", 2),
    ("binary_crossentropy", "sigmoid", 1),
    ("mean_squared_error", "sigmoid", 1),
    ("binary_focal_crossentropy", "sigmoid", 1),
    ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, "linear", 1),
    ({"class_name": "SparseCategoricalCrossentropy", "config": {"reduction": "sum"}}, "softmax", 2),
    (
        {"class_name": "MeanSquaredError", "config": {"reduction": "mean_with_sample_weight"}},
        "sigmoid",
        1,
    ),
]


@pytest.mark.parametrize("loss,activation,units", WEIGHTED_CASES, ids=str)
def test_class_weights_add_up_in_the_panel(loss, activation, units):
    layers = [
        _layer("Dense", "h", units=3, activation="tanh"),
        _layer("Dense", "out", units=units, activation=activation),
    ]
    project = _project(layers, loss)
    project.data["fit"]["class_weight"] = {"0": 0.5, "1": 3.0}
    session = StepSession(project, batch_size=4)
    session.run_to_end()
    weights = session.phases[-1] and session.batch_w
    assert weights is not None and set(np.unique(weights)) <= {0.5, 3.0}
    seen_w = False
    for sample in range(4):
        for u in range(units):
            exp = explain_neuron(session, "out", sample, u)
            check(session, exp)
            seen_w = seen_w or any(c.lhs.startswith("w") for c in chains_of(exp))
        check(session, explain_neuron(session, "h", sample, 1))
        check(session, explain_weight(session, "out", 2, units - 1, sample))
    assert seen_w

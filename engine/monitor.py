"""What the live views show about a model in training, computed where the model lives.

The GUI's training worker calls a :class:`Monitor` between training steps, at a throttled rate
(every few steps, at most ~10 times a second), never inside the training fast path. Everything
returned is a plain NumPy copy or a Python number, safe to hand to another thread:

- :meth:`Monitor.build_info`: once per (re)built model: the layers, the data points of a 2-D
  set, the sample images of an image set.
- :meth:`Monitor.snapshot`: per layer, weight copies (small kernels whole, large ones strided),
  a weight histogram, gradient norms and a gradient-magnitude histogram on a fixed probe batch,
  update-to-weight ratios since the previous snapshot, activation statistics (dead ReLUs,
  saturated sigmoid/tanh units), the activations of one selected sample, and for 2-D data the
  decision boundary over a grid plus each hidden neuron's output over the plane; for image
  data the first layer's weights as image tiles and predictions for a fixed set of samples.
  Convolutional networks (issue 15): the first convolution's filters as the tiles (the first
  layer whose type has a ``filter_weight``), the selected sample's feature maps for every
  layer whose output is an image (H, W, C; capped in channels and pixels), dead/saturated
  shares per channel of image layers with an activation; kernels of any rank (a 4-D one is
  shown as its (kh * kw * in, filters) matrix). Nothing here asks a class name: traits and
  weight shapes.
- :meth:`Monitor.epoch_report`: the confusion matrix and per-class accuracy on the validation
  split (the training split when there is none), at each epoch end.

Views never change the run: gradients for the views come from ``loss_and_grads`` with the
dropout random streams rewound afterwards (NumPy) or from ``layer_gradients`` (TensorFlow).
A network without random layers or moving statistics gets its activations and gradients from
one training-mode pass (:func:`outputs_and_gradients`).
This module imports neither Qt, TensorFlow nor scikit-learn (whose confusion matrix the tests
compare against).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.projection import Projection, default_choice

#: Gradient norms below this are marked "vanishing", above :data:`GRAD_EXPLODING` "exploding".
GRAD_VANISHING = 1e-7
GRAD_EXPLODING = 1e3
#: A layer is "dying" when this share of its ReLU units output 0 on every probe sample.
DEAD_WARNING = 0.5
#: A layer is "saturating" when this share of its sigmoid/tanh outputs sit in the flat tails.
SATURATION_WARNING = 0.5
#: Outputs closer than this to a sigmoid's 0/1 (tanh's -1/1) count as saturated.
SATURATION_MARGIN = 0.02
#: Fixed edges of the gradient-magnitude histogram, in log10 |g| (values of 0 fall in the
#: first bin): the same bins in every snapshot, so histograms compare over time.
GRAD_LOG_EDGES = np.linspace(-10.0, 4.0, 57)
#: Number of bins of a weight histogram (over [-r, r], r the largest |w| rounded up).
WEIGHT_BINS = 41
#: Kernels with more cells than this are copied with a stride (the heatmap shows ~512x512).
MAX_KERNEL_CELLS = 512 * 512
#: Layers up to this many units are drawn neuron by neuron by the network view.
MAX_NEURONS_SHOWN = 32
#: Hidden-neuron maps over the plane are made when the hidden layers total at most this.
MAX_NEURON_MAPS = 96
#: The decision-boundary view draws at most this many training (and validation) points.
MAX_POINTS_SHOWN = 3000
#: Feature maps (layers whose output is an image, H x W x C): at most this many channels of a
#: layer are sent per snapshot (the first ones)...
MAX_MAP_CHANNELS = 32
#: ...each at most this many pixels a side (larger maps are strided)...
MAX_MAP_SIDE = 64
#: ...and at most this many values in all per snapshot (later layers are left out).
MAX_MAP_VALUES = 256 * 1024
#: Filter tiles (the first layer with a ``filter_weight``): at most this many filters, each
#: with at most this many input channels side by side.
MAX_FILTERS_SHOWN = 256
MAX_FILTER_INPUTS = 8
#: The probe batch holds at most this many layer outputs in all (samples x the values every
#: layer outputs per sample), and at least MIN_PROBE samples: a snapshot runs the probe through
#: the network and back, and a CNN's probe of 128 cost ~2.6 training steps (live LeNet
#: training 1.2x headless, issue 15); an MLP's (MNIST: ~1 000 values a sample) keeps 128.
MAX_PROBE_VALUES = 512 * 1024
MIN_PROBE = 32

RELU_LIKE = ("relu",)
SATURATING = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")


# ------------------------------------------------------------------------------- data classes
@dataclass
class LayerInfo:
    """A layer as the views need it (from the graph; no arrays).

    ``class_name`` is for display only; views that treat layer types differently read the
    layer type's traits copied here (see :class:`engine.layers.LayerType`): ``fully_connected``
    (a kernel (input units, units): drawn as weighted edges, weight tiles and neuron maps),
    ``passes_values`` (output = input values at most reshaped or masked: views look through
    it), ``unit_by_unit`` (output unit i from input unit i alone) and ``has_activation``
    (applies ``activation``); ``filter_weight`` names the weight (kh, kw, in, filters) drawn
    as filter images, ``image_input`` says the layer needs (H, W, C) inputs; ``output_shape``
    is the layer's output shape without the batch axis (rank 3: an image, H x W x C). Plain
    values: the info crosses to the window's process.
    """

    name: str
    class_name: str
    activation: str | None
    units: int
    inbound: list[str]
    weight_shapes: dict[str, tuple[int, ...]]
    fully_connected: bool = False
    passes_values: bool = False
    has_activation: bool = False
    unit_by_unit: bool = False
    output_shape: tuple[int, ...] = ()
    filter_weight: str | None = None
    image_input: bool = False

    @property
    def is_image(self) -> bool:
        """Whether the output is an image (H, W, C): feature maps, per-channel health."""
        return len(self.output_shape) == 3


@dataclass
class BuildInfo:
    """What does not change while one model trains: sent once per (re)build.

    Attributes
    ----------
    layers : list of LayerInfo
        Every layer, in topological order.
    input_units : int
        Number of values in one input sample.
    task : {"classification", "regression"}
    n_classes : int
    class_names : list of str
    points : dict or None
        Flat, non-image data with two or more features (see
        :meth:`Monitor.boundary_possible`): ``x_train`` (n, 2) the training points on the
        boundary's plane (at most :data:`MAX_POINTS_SHOWN`, of ``n_train``), ``y_train`` (n,)
        int class labels (or values), ``x_val``/``y_val`` likewise or None (of ``n_val``),
        ``extent`` ``(x0, x1, y0, y1)`` of the grid, ``axis_labels`` (two names),
        ``projection`` (the plane's choice dict), ``n_features`` and ``feature_names`` (one per
        input feature, ``x<j>`` where the data names none). Coordinates are the data's
        own units on a plane of two features, principal-component scores otherwise.
    image_shape : tuple of int or None
        ``(h, w)`` when the inputs are images (first-layer tiles, prediction grid).
    sample_images : ndarray of shape (n, h, w) or None
        The fixed samples of the prediction grid (scaled to 0..1 per image).
    sample_labels : ndarray of shape (n,) or None
    probe_size : int
        Samples in the probe batch (the selectable samples of the activity view).
    tiles_layer : str or None
        The layer whose weights the tiles show: the first with a ``filter_weight`` (a
        convolution: one tile per filter), else the first fully connected layer on the input
        pixels (one tile per unit).
    tiles_kind : {"filters", "units"}
    tile_shape : tuple of int or None
        ``(h, w)`` of one tile: the input image for units; for filters ``(kh, kw * c)``, the
        filter's first ``c`` input channels side by side (``tile_inputs`` of ``in``).
    tile_inputs : tuple of int
        ``(c, in)``: input channels shown per filter tile, of the kernel's.
    map_shapes : dict of str to tuple
        ``{layer: (H, W, C)}`` for the input (``"input"``) and every layer whose output is an
        image, in topological order: the feature maps of the selected sample
        (:attr:`Snapshot.feature_maps` holds at most :data:`MAX_MAP_CHANNELS` of them).
    map_sent : dict of str to tuple
        ``{layer: (c, h, w)}``: what each snapshot's feature maps hold of those layers (the
        caps); a layer missing here is beyond :data:`MAX_MAP_VALUES`.
    """

    layers: list[LayerInfo]
    input_units: int
    task: str
    n_classes: int
    class_names: list[str]
    points: dict[str, Any] | None = None
    image_shape: tuple[int, int] | None = None
    sample_images: np.ndarray | None = None
    sample_labels: np.ndarray | None = None
    probe_size: int = 0
    tiles_layer: str | None = None
    tiles_kind: str = "units"
    tile_shape: tuple[int, int] | None = None
    tile_inputs: tuple[int, int] = (1, 1)
    map_shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    map_sent: dict[str, tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class LayerStats:
    """One layer at one moment (weights, gradients, activations on the probe batch).

    ``kernel`` is the whole kernel (in, out) when it has at most :data:`MAX_KERNEL_CELLS`
    cells, else a strided copy; ``weight_hist`` is ``(counts, edges)``; ``grad_hist`` counts
    of log10 |g| over :data:`GRAD_LOG_EDGES`; ``update_ratio`` the norm of the weight change
    per step since the previous snapshot over the weight norm; ``dead_fraction`` (ReLU layers)
    the share of units that output 0 for every probe sample; ``saturated_fraction``
    (sigmoid/tanh) the share of outputs within :data:`SATURATION_MARGIN` of the asymptotes.
    A kernel of any rank is sent as the 2-D matrix a layer multiplies by: its last axis (units
    or filters) as columns, every other axis flattened into rows (a convolution's (kh, kw, in,
    filters) becomes (kh * kw * in, filters), the window's cells by rows); ``kernel_shape`` is
    its own shape. For an image output (H, W, C), ``dead_per_channel`` is per channel the share
    of positions whose ReLU outputs 0 for every probe sample (its mean is ``dead_fraction``)
    and ``saturated_per_channel`` the share of outputs (samples x positions) in the tails.
    """

    name: str
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    weight_norm: float = 0.0
    weight_hist: tuple[np.ndarray, np.ndarray] | None = None
    grad_norm: float = math.nan
    grad_hist: np.ndarray | None = None
    update_ratio: float = math.nan
    dead_fraction: float | None = None
    saturated_fraction: float | None = None
    act_mean: float = math.nan
    act_std: float = math.nan
    kernel_shape: tuple[int, ...] | None = None
    dead_per_channel: np.ndarray | None = None
    saturated_per_channel: np.ndarray | None = None


@dataclass
class Snapshot:
    """The state the live views show, at global step ``step``.

    ``activations``: ``{"input": (n_in,), layer: (units,)}`` for the selected probe sample;
    ``boundary``: (res, res, k) class probabilities (or (res, res, 1) outputs for regression)
    over the grid of :attr:`BuildInfo.points`, row = y; ``neuron_maps``: ``{layer: (units, r,
    r)}`` hidden outputs over the same plane; ``tiles``: (units, h, w) first-layer weights and
    ``tiles_change`` their change since the monitor started (the random start subtracted:
    what training has learned) (for a convolution (filters, kh, kw * c): each filter, its
    input channels side by side); ``feature_maps``: ``{layer: (c, h, w)}`` float32 outputs of
    the selected sample for the layers of :attr:`BuildInfo.map_shapes` (channels-first, at most
    :data:`MAX_MAP_CHANNELS`, strided to :data:`MAX_MAP_SIDE`; such layers' ``activations``
    are left out: the maps carry them); ``predictions``: (n,) predicted classes of the sample
    images, ``confidence`` their probabilities; ``run``: the worker's run id (set by the
    worker).
    """

    step: int
    epoch: int
    layers: dict[str, LayerStats] = field(default_factory=dict)
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    sample_index: int = 0
    sample_label: str = ""
    boundary: np.ndarray | None = None
    neuron_maps: dict[str, np.ndarray] = field(default_factory=dict)
    tiles: np.ndarray | None = None
    tiles_change: np.ndarray | None = None
    feature_maps: dict[str, np.ndarray] = field(default_factory=dict)
    predictions: np.ndarray | None = None
    confidence: np.ndarray | None = None
    seconds: float = 0.0
    run: int = 0

    def warnings(self) -> dict[str, str]:
        """``{layer: sentence}`` for layers that are dying, saturating, vanishing, exploding."""
        return layer_warnings(self.layers)


@dataclass
class EpochReport:
    """Classification quality at an epoch end: ``confusion[i, j]`` counts samples of class
    ``i`` predicted as ``j``; ``per_class_accuracy[i]`` is the recall of class ``i`` (NaN
    when the split holds none of it)."""

    epoch: int
    split: str
    confusion: np.ndarray
    per_class_accuracy: np.ndarray
    accuracy: float
    run: int = 0


# ------------------------------------------------------------------------------- statistics
def weight_histogram(w: np.ndarray, bins: int = WEIGHT_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of ``w`` over ``bins`` equal bins on a symmetric range ``[-r, r]``.

    ``r`` is the largest |w| rounded up to 1, 2 or 5 times a power of ten, so the range stays
    put while the weights grow a little. Returns ``(counts, edges)`` (float64, int64).
    """
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    finite = w[np.isfinite(w)]
    top = float(np.max(np.abs(finite))) if finite.size else 0.0
    r = nice_ceiling(top) if top > 0 else 1.0
    counts, edges = np.histogram(finite, bins=bins, range=(-r, r))
    return counts.astype(np.int64), edges


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= ``x`` (> 0)."""
    exp = math.floor(math.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        v = m * 10.0**exp
        if v >= x * (1 - 1e-12):
            return v
    return 10.0 ** (exp + 1)  # pragma: no cover - the loop always returns


def grad_log_histogram(g: np.ndarray) -> np.ndarray:
    """Counts of log10 |g| over :data:`GRAD_LOG_EDGES`; zeros and tinier values count in the
    first bin, huge ones in the last, non-finite ones nowhere."""
    a = np.abs(np.asarray(g, dtype=np.float64).reshape(-1))
    a = a[np.isfinite(a)]
    lo, hi = GRAD_LOG_EDGES[0], GRAD_LOG_EDGES[-1]
    with np.errstate(divide="ignore"):
        logs = np.clip(np.log10(a), lo, hi - 1e-9)
    # np.histogram's counts (bin i: edges[i] <= v < edges[i + 1]), without its sort of every
    # value: a 4-D kernel's or a wide Dense layer's gradient has 1e5+ of them per snapshot.
    idx = np.searchsorted(GRAD_LOG_EDGES, logs, side="right") - 1
    n_bins = len(GRAD_LOG_EDGES) - 1
    return np.bincount(np.clip(idx, 0, n_bins - 1), minlength=n_bins).astype(np.int64)


def dead_fraction(a: np.ndarray) -> float:
    """Share of units (last axis) whose output is <= 0 for every sample (a "dead" ReLU)."""
    a = np.asarray(a)
    if a.size == 0:
        return 0.0
    flat = a.reshape(len(a), -1)
    return float(np.mean(np.all(flat <= 0, axis=0)))


def saturated_fraction(a: np.ndarray, activation: str, margin: float = SATURATION_MARGIN) -> float:
    """Share of outputs within ``margin`` (relative to the range) of the activation's
    asymptotes: sigmoid near 0 or 1, tanh near -1 or 1."""
    lo, hi = SATURATING[activation]
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return 0.0
    m = margin * (hi - lo)
    return float(np.mean((a <= lo + m) | (a >= hi - m)))


def activation_stats(activation: str | None, a: np.ndarray) -> dict[str, float | None]:
    """``dead`` (ReLU layers), ``saturated`` (sigmoid/tanh), ``mean`` and ``std`` of ``a``."""
    a = np.asarray(a)
    finite = a if not a.size or np.isfinite(a).all() else a[np.isfinite(a)]
    return {
        "dead": dead_fraction(a) if activation in RELU_LIKE else None,
        "saturated": saturated_fraction(a, activation) if activation in SATURATING else None,
        "mean": float(finite.mean()) if finite.size else math.nan,
        "std": float(finite.std()) if finite.size else math.nan,
    }


def channel_health(activation: str | None, a: np.ndarray) -> dict[str, np.ndarray | None]:
    """Per channel (the last axis) of image outputs ``a`` (n, H, W, C): ``dead`` (ReLU
    layers), the share of the channel's positions that output <= 0 for every sample (1: a
    dead filter); ``saturated`` (sigmoid/tanh), the share of its outputs (samples x positions)
    within :data:`SATURATION_MARGIN` of the asymptotes. The means over channels are
    :func:`dead_fraction` and :func:`saturated_fraction` of the whole layer."""
    a = np.asarray(a)
    c = a.shape[-1] if a.ndim else 0
    dead = sat = None
    if activation in RELU_LIKE:
        if a.size == 0:
            dead = np.zeros(c)
        else:
            never = np.all(a <= 0, axis=0)  # (H, W, C): a position dead on every sample
            dead = never.reshape(-1, c).mean(axis=0).astype(np.float64)
    if activation in SATURATING:
        if a.size == 0:
            sat = np.zeros(c)
        else:
            lo, hi = SATURATING[activation]
            m = SATURATION_MARGIN * (hi - lo)
            tails = (a <= lo + m) | (a >= hi - m)
            sat = tails.reshape(-1, c).mean(axis=0).astype(np.float64)
    return {"dead": dead, "saturated": sat}


def kernel_matrix(kernel: np.ndarray) -> np.ndarray:
    """A kernel of any rank as the 2-D matrix the layer multiplies by: the last axis (units,
    filters) as columns, the others flattened into rows ((in, units) stays as it is; (kh, kw,
    in, filters) becomes (kh * kw * in, filters)); a 1-D weight is one column."""
    k = np.asarray(kernel)
    if k.ndim == 0:
        return k.reshape(1, 1)
    if k.ndim == 1:
        return k.reshape(-1, 1)
    return k.reshape(-1, k.shape[-1])


def filter_tiles(kernel: np.ndarray, max_filters: int = MAX_FILTERS_SHOWN) -> np.ndarray:
    """A convolution's kernel (kh, kw, in, filters) as one image per filter, (filters, kh,
    kw * c): the filter's first ``c`` (at most :data:`MAX_FILTER_INPUTS`) input channels side
    by side, ``tile[y, j * kw + x] = kernel[y, x, j, f]``; at most ``max_filters`` filters.
    Any other rank: the leading axes are the window's (a 1-D window is one row high)."""
    k = np.asarray(kernel)
    if k.ndim < 3:
        raise ValueError(f"a filter kernel has 3 or more axes (window, in, filters), got {k.shape}")
    window, cin, nf = k.shape[:-2], k.shape[-2], k.shape[-1]
    if len(window) == 1:
        window = (1,) + window
    k = k.reshape((int(np.prod(window[:-1])), window[-1], cin, nf))
    c = min(cin, MAX_FILTER_INPUTS)
    k = k[:, :, :c, : min(nf, max_filters)]
    kh, kw = k.shape[:2]
    return np.ascontiguousarray(k.transpose(3, 0, 2, 1).reshape(k.shape[3], kh, c * kw))


def feature_maps(
    a: np.ndarray, max_channels: int = MAX_MAP_CHANNELS, max_side: int = MAX_MAP_SIDE
) -> np.ndarray:
    """One sample's image output (H, W, C) as (c, h, w) float32 channel images: the first
    ``max_channels`` channels, strided so that no side exceeds ``max_side``."""
    a = np.asarray(a)
    h, w = a.shape[0], a.shape[1]
    sy = max(1, math.ceil(h / max_side))
    sx = max(1, math.ceil(w / max_side))
    part = a[::sy, ::sx, :max_channels]
    return np.ascontiguousarray(np.moveaxis(part, -1, 0), dtype=np.float32)


def update_ratio(before: dict[str, np.ndarray], after: dict[str, np.ndarray], steps: int) -> float:
    """||after - before|| / ||before|| per step (over a layer's kernel and bias together).

    The classic rule of thumb wants about 1e-3 per update: much lower learns slowly, much
    higher is unstable. ``steps`` is the number of updates between ``before`` and ``after``.
    """
    diff = 0.0
    base = 0.0
    for key, b in before.items():
        a = after.get(key)
        if a is None or a.shape != b.shape:
            return math.nan
        b64 = b.astype(np.float64, copy=False)
        diff += float(np.sum((a.astype(np.float64, copy=False) - b64) ** 2))
        base += float(np.sum(b64**2))
    if steps <= 0:
        return math.nan
    return math.sqrt(diff) / max(math.sqrt(base), 1e-12) / steps


def layer_warnings(layers: dict[str, LayerStats]) -> dict[str, str]:
    """One sentence per layer in trouble, for a badge and its tooltip."""
    out: dict[str, str] = {}
    for name, st in layers.items():
        msgs = []
        if st.dead_fraction is not None and st.dead_fraction >= DEAD_WARNING:
            msgs.append(
                f"dying: {st.dead_fraction:.0%} of its ReLU units output 0 for every probe sample"
            )
        if st.saturated_fraction is not None and st.saturated_fraction >= SATURATION_WARNING:
            msgs.append(f"saturating: {st.saturated_fraction:.0%} of its outputs sit in the tails")
        if math.isfinite(st.grad_norm):
            if st.grad_norm < GRAD_VANISHING:
                msgs.append(f"vanishing gradient (norm {st.grad_norm:.1e} < {GRAD_VANISHING:g})")
            elif st.grad_norm > GRAD_EXPLODING:
                msgs.append(f"exploding gradient (norm {st.grad_norm:.1e} > {GRAD_EXPLODING:g})")
        if msgs:
            out[name] = "; ".join(msgs)
    return out


def class_labels(y: np.ndarray, positive_threshold: float = 0.5) -> np.ndarray:
    """Integer class labels from encoded targets: sparse labels as they are, one-hot by
    argmax, a single column by threshold (-1/+1 Perceptron targets by sign)."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y.astype(np.int64)
    if y.shape[1] == 1:
        col = y[:, 0]
        thr = 0.0 if col.min(initial=0.0) < 0 else positive_threshold
        return (col > thr).astype(np.int64)
    return np.argmax(y, axis=1).astype(np.int64)


def predicted_classes(out: np.ndarray, activation: str | None) -> np.ndarray:
    """Class predictions from network outputs (argmax, or a threshold for one unit)."""
    out = np.asarray(out).reshape(len(out), -1)
    if out.shape[1] == 1:
        thr = 0.5 if activation in ("sigmoid", "hard_sigmoid", "softmax") else 0.0
        return (out[:, 0] >= thr).astype(np.int64)
    return np.argmax(out, axis=1).astype(np.int64)


def class_probabilities(out: np.ndarray, activation: str | None) -> np.ndarray:
    """(n, k) class scores in [0, 1] summing to 1 per row, from network outputs."""
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if out.shape[1] == 1:
        if activation in ("sigmoid", "hard_sigmoid"):
            p = np.clip(out[:, 0], 0.0, 1.0)
        else:  # a linear/tanh/sign unit separating by sign
            p = 1.0 / (1.0 + np.exp(-np.clip(out[:, 0] * 4.0, -50, 50)))
        return np.stack([1.0 - p, p], axis=1)
    if activation == "softmax":
        return np.clip(out, 0.0, 1.0)
    shifted = out - out.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """The confusion matrix with every class present (rows: true, columns: predicted), equal
    to scikit-learn's ``confusion_matrix(..., labels=range(n_classes))`` (tested).

    Counted with ``np.bincount``: importing scikit-learn's metrics takes over a second, which
    at the first epoch end would stall the training it is meant to watch.
    """
    k = int(n_classes)
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    keep = (t >= 0) & (t < k) & (p >= 0) & (p < k)
    return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k).astype(np.int64)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall per class from a confusion matrix (NaN for a class with no samples)."""
    totals = cm.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.where(totals > 0, totals, 1.0), np.nan)


def image_shape_for(n_values: int, dataset_name: str | None, input_shape: tuple) -> tuple | None:
    """``(h, w)`` when the inputs are images: (h, w[, 1]) inputs, or a known image set's flat
    vector (digits 8x8, MNIST 28x28)."""
    if len(input_shape) == 3 and input_shape[2] == 1:
        return (int(input_shape[0]), int(input_shape[1]))
    if len(input_shape) == 2:
        return (int(input_shape[0]), int(input_shape[1]))
    side = math.isqrt(n_values)
    if dataset_name in IMAGE_DATASETS and side * side == n_values:
        return (side, side)
    return None


def _strided(kernel: np.ndarray) -> np.ndarray:
    """The kernel's matrix (:func:`kernel_matrix`), strided to about 512 x 512 cells."""
    k = kernel_matrix(kernel)
    if k.size <= MAX_KERNEL_CELLS:
        return np.array(k, copy=True)
    si = max(1, math.ceil(k.shape[0] / 512))
    so = max(1, math.ceil(k.shape[1] / 512))
    return np.array(k[::si, ::so], copy=True)


def _scale01(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), -1).astype(np.float64)
    lo = flat.min(axis=1, keepdims=True)
    hi = flat.max(axis=1, keepdims=True)
    return ((flat - lo) / np.where(hi > lo, hi - lo, 1.0)).reshape(images.shape)


def _health(st: LayerStats, node, a: np.ndarray) -> None:
    """Activation statistics of ``node``'s outputs ``a`` on the probe batch into ``st``: the
    layer's dead/saturated shares, mean and std, and per channel for an image output."""
    if np.ndim(a) == 4 and node.layer_type.has_activation:
        # Every channel has as many outputs: the layer's shares are the channels' means.
        per = channel_health(node.activation, a)
        st.dead_per_channel = per["dead"]
        st.saturated_per_channel = per["saturated"]
        stats = activation_stats(None, a)
        st.dead_fraction = None if per["dead"] is None else float(np.mean(per["dead"]))
        st.saturated_fraction = (
            None if per["saturated"] is None else float(np.mean(per["saturated"]))
        )
    else:
        stats = activation_stats(node.activation, a)
        st.dead_fraction = stats["dead"]
        st.saturated_fraction = stats["saturated"]
    st.act_mean, st.act_std = stats["mean"], stats["std"]


# ------------------------------------------------------------------------------- model access
def layer_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output (inference mode) for a batch ``x``, keyed by layer name."""
    if hasattr(model, "forward"):  # the NumPy engine
        _, caches = model.forward(x, training=False)
        return {name: c.a for name, c in caches.items()}
    return model.layer_outputs(x)  # TensorFlowModel: one call of a probe model


def layer_gradients(model, x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Weight gradients of the loss on ``(x, y)`` at the current weights, without an update and
    without moving the dropout random streams (so the training run is unchanged): the model's
    own ``layer_gradients``; none for the Perceptron."""
    if getattr(model, "perceptron", False):
        return {}
    return model.layer_gradients(x, y)


def outputs_and_gradients(model, x: np.ndarray, y: np.ndarray):
    """``(layer_outputs, layer_gradients)`` on ``(x, y)`` from one training-mode pass (the
    model's ``outputs_and_gradients``), or None for the Perceptron (then call
    :func:`layer_outputs` and :func:`layer_gradients`). Only for networks whose training-mode
    outputs are their inference outputs (no random layer, no moving statistics:
    :attr:`Monitor.one_pass`): one forward pass instead of two, about a third of a snapshot's
    cost on a CNN. The random streams are rewound and the model is left as it was."""
    if getattr(model, "perceptron", False):
        return None
    return model.outputs_and_gradients(x, y)


def probe_size_for(graph, probe_size: int) -> int:
    """``probe_size`` samples, fewer where the network's layers output more than
    :data:`MAX_PROBE_VALUES` values over them (never below :data:`MIN_PROBE`)."""
    per_sample = sum(
        math.prod(nd.output_shape) for nd in graph.nodes if nd.output_shape is not None
    )
    if per_sample <= 0:
        return probe_size
    return max(min(probe_size, MIN_PROBE), min(probe_size, MAX_PROBE_VALUES // per_sample))


# ------------------------------------------------------------------------------- the monitor
class Monitor:
    """Computes snapshots of one model on fixed probe data. Call it on the model's thread.

    Parameters
    ----------
    model
        A backend model (NumPy or TensorFlow).
    graph : Graph
    data : TrainingData
    dataset_name : str or None
        The built-in set's name (decides whether flat inputs are images).
    probe_size : int
        Samples of the fixed probe batch (drawn from the training split with ``seed``), fewer
        for networks whose layers output many values a sample (:func:`probe_size_for`).
    grid : int
        Resolution of the decision-boundary grid (2-D data).
    map_grid : int
        Resolution of each hidden neuron's map (2-D data, small nets).
    n_samples_shown : int
        Images in the prediction grid.
    projection : dict or None
        The plane of the decision boundary for data with more than two features
        (:meth:`engine.data.projection.Projection.from_choice`); None: the default plane
        (:func:`~engine.data.projection.default_choice`).
    """

    def __init__(
        self,
        model,
        graph,
        data,
        dataset_name: str | None = None,
        probe_size: int = 128,
        seed: int = 0,
        grid: int = 80,
        map_grid: int = 28,
        n_samples_shown: int = 24,
        projection: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.graph = graph
        self.data = data
        self.sample_index = 0
        rng = np.random.default_rng([int(seed), 11])
        n = len(data.x_train)
        probe_size = probe_size_for(graph, probe_size)
        idx = np.sort(rng.choice(n, size=min(probe_size, n), replace=False))
        self.probe_x = np.ascontiguousarray(data.x_train[idx])
        self.probe_y = np.ascontiguousarray(data.y_train[idx])
        self.probe_labels = class_labels(self.probe_y) if self._is_classification() else None
        # The output layer's activation decides how outputs become classes (a layer without
        # one, such as a final Dropout, gives None: outputs read as linear).
        self.out_activation = graph.output_node.activation
        self._weighted = [nd for nd in graph.nodes if nd.weight_names]
        #: Training-mode outputs are the inference outputs (no random layer, no weight that
        #: training does not train, such as moving statistics): one pass gives a snapshot both
        #: the activations and the gradients (:func:`outputs_and_gradients`).
        self.one_pass = not any(
            nd.layer_type.random_in_training or any(not w.trainable for w in nd.weights)
            for nd in graph.nodes
        )
        self._prev_weights: dict[str, dict[str, np.ndarray]] | None = None
        self._prev_ratio: dict[str, float] = {}
        self._prev_step = 0
        input_shape = tuple(graph.input_shape)
        self.input_units = int(np.prod(input_shape))
        ds = data.dataset
        self.n_classes = int(getattr(ds, "n_classes", None) or graph.output_shape[-1] or 1)
        if self.n_classes < 2 and self._is_classification():
            self.n_classes = 2
        self.class_names = list(getattr(ds, "class_names", None) or []) or [
            str(i) for i in range(self.n_classes)
        ]
        self.image_shape = image_shape_for(self.input_units, dataset_name, input_shape)
        self.feature_names = [str(f) for f in (getattr(ds, "feature_names", None) or [])]
        self._seed = int(seed)
        self._grid_res = int(grid)
        self._map_res = int(map_grid)
        self._grid = None
        self._map_grid = None
        self.projection: Projection | None = None
        self.extent = (0.0, 1.0, 0.0, 1.0)
        self.set_projection(projection)
        self._samples_x = None
        self._samples_y = None
        if self.image_shape is not None and self._is_classification():
            src_x = data.x_val if data.x_val is not None and len(data.x_val) else data.x_train
            src_y = data.y_val if data.x_val is not None and len(data.x_val) else data.y_train
            k = min(n_samples_shown, len(src_x))
            self._samples_x = np.ascontiguousarray(src_x[:k])
            self._samples_y = class_labels(src_y[:k])
        self.tiles_layer, self.tiles_kind, self._tiles_weight = self._tiles_source()
        self._tiles_start = (
            np.array(model.get_weights()[self.tiles_layer][self._tiles_weight], copy=True)
            if self.tiles_layer is not None
            else None
        )
        self.map_shapes, self._map_plan = self._feature_map_plan()

    # ------------------------------------------------------------------ setup
    def _is_classification(self) -> bool:
        ds = self.data.dataset
        return getattr(ds, "task", "classification") == "classification"

    def _tiles_source(self) -> tuple[str | None, str, str]:
        """``(layer, kind, weight)`` the tiles show: the first layer with a ``filter_weight``
        (its filters, ``"filters"``), else the first fully connected layer on the input pixels
        (its units, ``"units"``, the ``kernel``); ``(None, "units", "kernel")`` when neither."""
        for node in self.graph.nodes:
            fw = node.layer_type.filter_weight
            if fw and fw in node.weight_names:
                shape = next((tuple(w.shape) for w in node.weights if w.name == fw), ())
                if len(shape) >= 3:
                    return node.name, "filters", fw
        return self._first_fully_connected_on_input(), "units", "kernel"

    def _feature_map_plan(self) -> tuple[dict[str, tuple], dict[str, tuple[int, int, int]]]:
        """The image outputs (H, W, C) of the input and every layer, in topological order,
        and what a snapshot sends of each for the selected sample: ``(channels, h, w)`` within
        the caps (:data:`MAX_MAP_CHANNELS`, :data:`MAX_MAP_SIDE`, :data:`MAX_MAP_VALUES` in
        all: layers after the budget is spent are left out)."""
        shapes: dict[str, tuple] = {}
        if len(self.graph.input_shape) == 3:
            shapes["input"] = tuple(int(d) for d in self.graph.input_shape)
        for node in self.graph.nodes:
            if node.output_shape is not None and len(node.output_shape) == 3:
                shapes[node.name] = tuple(int(d) for d in node.output_shape)
        plan: dict[str, tuple[int, int, int]] = {}
        total = 0
        for name, (h, w, c) in shapes.items():
            sent = (
                min(c, MAX_MAP_CHANNELS),
                -(-h // max(1, math.ceil(h / MAX_MAP_SIDE))),
                -(-w // max(1, math.ceil(w / MAX_MAP_SIDE))),
            )
            size = sent[0] * sent[1] * sent[2]
            if total + size > MAX_MAP_VALUES:
                break
            total += size
            plan[name] = sent
        return shapes, plan

    def _first_fully_connected_on_input(self) -> str | None:
        """The layer whose kernel the weight tiles show: the first fully connected layer that
        reads the input's pixels, directly or through layers that pass values on (Flatten,
        Dropout), one kernel row per pixel."""
        if self.image_shape is None:
            return None
        for node in self.graph.nodes:
            if not node.layer_type.fully_connected:
                continue
            src = node.inbound[0] if node.inbound else None
            while src is not None and src != "input":
                prev = self.graph.by_name[src]
                if not prev.layer_type.passes_values:
                    break
                src = prev.inbound[0]
            if src == "input" and node.input_shapes[0][-1] == self.input_units:
                return node.name
        return None

    def boundary_possible(self) -> bool:
        """Whether a decision boundary can be drawn: flat inputs of two or more features that
        are not images (image sets show weight tiles and predictions instead)."""
        return (
            len(self.graph.input_shape) == 1 and self.input_units >= 2 and self.image_shape is None
        )

    def set_projection(self, choice: dict[str, Any] | None = None) -> bool:
        """Choose the plane of the decision boundary and rebuild its grids.

        ``choice`` as :meth:`Projection.from_choice` takes it; None, or features out of range
        for this data, fall back to :func:`default_choice`. The plane is fitted on the training
        inputs (the other features held at their training means) and its extent widened to the
        validation inputs. Returns whether there is a boundary now; call :meth:`build_info`
        for the new points and axes.
        """
        self._grid = self._map_grid = self.projection = None
        self._shown = []
        if not self.boundary_possible():
            return False
        x_train = self.data.x_train.reshape(len(self.data.x_train), -1)
        try:
            proj = Projection.from_choice(choice or default_choice(self.input_units))
            proj.fit(x_train, seed=self._seed)
        except ValueError:
            proj = Projection.from_choice(default_choice(self.input_units))
            proj.fit(x_train, seed=self._seed)
        # The points a view draws (seeded subsets of large data) lie inside the grid.
        self._shown = [self._subset(self.data.x_train, self.data.y_train, 1)]
        proj.include(self._shown[0][0])
        if self.data.x_val is not None and len(self.data.x_val):
            self._shown.append(self._subset(self.data.x_val, self.data.y_val, 2))
            proj.include(self._shown[1][0])
        self.projection = proj
        self.extent = proj.extent(0.1)
        dtype = self.data.x_train.dtype
        shape = tuple(self.graph.input_shape)

        def plane(r: int) -> np.ndarray:
            _, full = proj.grid(r, 0.1)  # row index = the plane's y
            return np.ascontiguousarray(full.astype(dtype).reshape((len(full),) + shape))

        self._grid = (self._grid_res, plane(self._grid_res))
        hidden = [
            nd
            for nd in self.graph.nodes
            if nd.layer_type.fully_connected and nd.name != self.graph.output
        ]
        total = sum(nd.output_shape[-1] for nd in hidden)
        if hidden and total <= MAX_NEURON_MAPS:
            self._map_grid = (self._map_res, plane(self._map_res), [nd.name for nd in hidden])
        return True

    def _display(self, plane: np.ndarray) -> np.ndarray:
        """Plane coordinates as the boundary view's axes show them: for a plane of two chosen
        features, in the data's own units (the scaling the network sees undone); principal
        components stay in the scaled space they were computed in."""
        proj = self.projection
        scaler = getattr(self.data, "standardizer", None)
        if proj.kind != "features" or scaler is None or not hasattr(scaler, "inverse_transform"):
            return np.asarray(plane, dtype=np.float64)
        # The scaler was fitted on these flat inputs: the full vectors have its shape.
        raw = scaler.inverse_transform(proj.to_full(plane))
        return np.asarray(raw, dtype=np.float64)[:, list(proj.features)]

    def _subset(self, x: np.ndarray, y: np.ndarray | None, salt: int):
        """At most :data:`MAX_POINTS_SHOWN` samples (a seeded subset), flat, with their
        labels (class indices, or values for regression)."""
        x = np.asarray(x).reshape(len(x), -1)
        if len(x) > MAX_POINTS_SHOWN:
            rng = np.random.default_rng([self._seed, salt])
            idx = np.sort(rng.choice(len(x), MAX_POINTS_SHOWN, replace=False))
            x = x[idx]
            y = None if y is None else np.asarray(y)[idx]
        if y is not None:
            y = (
                class_labels(y)
                if self._is_classification()
                else np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
            )
        return x, y

    def build_info(self) -> BuildInfo:
        layers = [
            LayerInfo(
                nd.name,
                nd.class_name,
                nd.activation,
                int(nd.output_shape[-1]) if nd.output_shape else 1,
                list(nd.inbound),
                {w: tuple(a.shape) for w, a in self.model.get_weights().get(nd.name, {}).items()},
                fully_connected=nd.layer_type.fully_connected,
                passes_values=nd.layer_type.passes_values,
                has_activation=nd.layer_type.has_activation,
                unit_by_unit=nd.layer_type.unit_by_unit,
                output_shape=tuple(int(d) for d in (nd.output_shape or ())),
                filter_weight=nd.layer_type.filter_weight,
                image_input=nd.layer_type.image_input,
            )
            for nd in self.graph.nodes
        ]
        tile_shape = self.image_shape
        tile_inputs = (1, 1)
        if self.tiles_kind == "filters":
            k = self._tiles_start
            tile_inputs = (min(k.shape[-2], MAX_FILTER_INPUTS), int(k.shape[-2]))
            tile_shape = tuple(int(d) for d in filter_tiles(k[..., :1]).shape[1:])
        points = None
        if self._grid is not None:
            proj = self.projection
            (x_train, y_train), *val = self._shown
            x_train = self._display(proj.to_plane(x_train))
            x_val = y_val = None
            if val:
                x_val, y_val = self._display(proj.to_plane(val[0][0])), val[0][1]
            x0, x1, y0, y1 = self.extent
            corners = self._display(np.array([[x0, y0], [x1, y1]]))
            points = {
                "x_train": x_train,
                "y_train": y_train,
                "x_val": x_val,
                "y_val": y_val,
                "n_train": len(self.data.x_train),
                "n_val": 0 if self.data.x_val is None else len(self.data.x_val),
                "extent": (
                    float(corners[0, 0]),
                    float(corners[1, 0]),
                    float(corners[0, 1]),
                    float(corners[1, 1]),
                ),
                "axis_labels": proj.axis_labels(self.feature_names),
                "projection": proj.choice(),
                "n_features": self.input_units,
                "feature_names": [
                    self.feature_names[j] if j < len(self.feature_names) else f"x{j}"
                    for j in range(self.input_units)
                ],
            }
        images = None
        if self._samples_x is not None:
            raw = self._samples_x
            scaler = getattr(self.data, "standardizer", None)
            if scaler is not None and hasattr(scaler, "inverse_transform"):
                raw = scaler.inverse_transform(raw)  # show the images, not standardized noise
            images = _scale01(np.asarray(raw).reshape((len(raw),) + self.image_shape))
        return BuildInfo(
            layers=layers,
            input_units=self.input_units,
            task="classification" if self._is_classification() else "regression",
            n_classes=self.n_classes,
            class_names=self.class_names,
            points=points,
            image_shape=self.image_shape,
            sample_images=images,
            sample_labels=None if self._samples_y is None else self._samples_y.copy(),
            probe_size=len(self.probe_x),
            tiles_layer=self.tiles_layer,
            tiles_kind=self.tiles_kind,
            tile_shape=tile_shape,
            tile_inputs=tile_inputs,
            map_shapes=dict(self.map_shapes),
            map_sent=dict(self._map_plan),
        )

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, step: int, epoch: int, gradients: bool = True) -> Snapshot:
        """The views' state now. ``step`` is the global step (updates so far).

        Weights near divergence may overflow on the way; the views get the inf/NaN values
        (and skip them), NumPy's warnings would only be noise."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return self._snapshot(step, epoch, gradients)

    def _snapshot(self, step: int, epoch: int, gradients: bool) -> Snapshot:
        t0 = time.perf_counter()
        snap = Snapshot(step=int(step), epoch=int(epoch))
        weights = self.model.get_weights()  # copies
        both = (
            outputs_and_gradients(self.model, self.probe_x, self.probe_y)
            if gradients and self.one_pass
            else None
        )
        if both is not None:
            outs, grads = both
        else:
            outs = layer_outputs(self.model, self.probe_x)
            grads = layer_gradients(self.model, self.probe_x, self.probe_y) if gradients else {}
        steps = step - self._prev_step
        for node in self._weighted:
            ws = weights.get(node.name, {})
            st = LayerStats(node.name)
            kname = node.layer_type.filter_weight or "kernel"
            kernel = ws.get(kname)
            if kernel is not None:
                st.kernel = _strided(kernel)
                st.kernel_shape = tuple(kernel.shape)
                st.weight_hist = weight_histogram(kernel)
            if "bias" in ws:
                st.bias = ws["bias"]
            st.weight_norm = math.sqrt(
                sum(float(np.sum(a.astype(np.float64) ** 2)) for a in ws.values())
            )
            g = grads.get(node.name)
            if g:
                st.grad_norm = math.sqrt(
                    sum(float(np.sum(np.asarray(a, dtype=np.float64) ** 2)) for a in g.values())
                )
                if kname in g:
                    st.grad_hist = grad_log_histogram(g[kname])
            if steps > 0 and self._prev_weights is not None and node.name in self._prev_weights:
                st.update_ratio = update_ratio(self._prev_weights[node.name], ws, steps)
            else:  # no step since the last snapshot (a pause): the last ratio still holds
                st.update_ratio = self._prev_ratio.get(node.name, math.nan)
            self._prev_ratio[node.name] = st.update_ratio
            _health(st, node, outs[node.name])
            snap.layers[node.name] = st
        # Layers that apply an activation but hold no weights (an Activation after a Dense
        # one) count for the block's health too; the loop above saw the weighted ones.
        for node in self.graph.nodes:
            if (
                node.layer_type.has_activation
                and not node.weight_names
                and node.activation in RELU_LIKE + tuple(SATURATING)
            ):
                st = LayerStats(node.name)
                _health(st, node, outs[node.name])
                snap.layers[node.name] = st
        if steps > 0 or self._prev_weights is None:
            self._prev_weights = weights
            self._prev_step = step

        i = int(min(max(self.sample_index, 0), len(self.probe_x) - 1))
        snap.sample_index = i
        snap.activations["input"] = np.asarray(self.probe_x[i], dtype=np.float64).reshape(-1)
        plan = self._map_plan
        for name, a in outs.items():
            if name in self.map_shapes:  # an image: its maps (bounded) rather than every value
                if name in plan:
                    snap.feature_maps[name] = feature_maps(a[i])
                continue
            snap.activations[name] = np.asarray(a[i], dtype=np.float64).reshape(-1)
        if "input" in plan:
            snap.feature_maps["input"] = feature_maps(self.probe_x[i])
        if self.probe_labels is not None:
            lab = int(self.probe_labels[i])
            snap.sample_label = self.class_names[lab] if lab < len(self.class_names) else str(lab)

        if self._grid is not None:
            res, pts = self._grid
            out = self.model.predict(pts, batch_size=8192)
            if self._is_classification():
                probs = class_probabilities(out, self.out_activation)
            else:
                probs = np.asarray(out, dtype=np.float64).reshape(len(out), -1)[:, :1]
            snap.boundary = probs.reshape(res, res, -1).astype(np.float32)
        if self._map_grid is not None:
            mres, mpts, names = self._map_grid
            mouts = layer_outputs(self.model, mpts)
            for name in names:
                a = np.asarray(mouts[name], dtype=np.float32)
                snap.neuron_maps[name] = np.ascontiguousarray(a.T.reshape(-1, mres, mres))
        if self.tiles_layer is not None:
            k = weights[self.tiles_layer][self._tiles_weight]
            if self.tiles_kind == "filters":
                snap.tiles = filter_tiles(k)
                snap.tiles_change = filter_tiles(k - self._tiles_start)
            else:
                shape = (k.shape[1],) + self.image_shape
                snap.tiles = np.ascontiguousarray(k.T.reshape(shape))
                snap.tiles_change = np.ascontiguousarray((k - self._tiles_start).T.reshape(shape))
        if self._samples_x is not None:
            out = self.model.predict(self._samples_x)
            probs = class_probabilities(out, self.out_activation)
            snap.predictions = predicted_classes(out, self.out_activation)
            snap.confidence = probs[np.arange(len(probs)), snap.predictions].astype(np.float64)
        snap.seconds = time.perf_counter() - t0
        return snap

    def epoch_report(self, epoch: int) -> EpochReport | None:
        """Confusion matrix on the validation split (else training split), classification only."""
        if not self._is_classification():
            return None
        has_val = self.data.x_val is not None and len(self.data.x_val)
        x = self.data.x_val if has_val else self.data.x_train
        y = self.data.y_val if has_val else self.data.y_train
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            # Batches of 256, as the trainer evaluates: 1024 images at once made a
            # convolution's windows 2.6x slower (cache misses) on LeNet; the outputs are the same.
            out = self.model.predict(x, batch_size=256)
        pred = predicted_classes(out, self.out_activation)
        true = class_labels(y)
        cm = confusion_matrix(true, pred, self.n_classes)
        total = int(cm.sum())
        return EpochReport(
            epoch=int(epoch),
            split="validation" if has_val else "training",
            confusion=cm,
            per_class_accuracy=per_class_accuracy(cm),
            accuracy=float(np.trace(cm) / total) if total else math.nan,
        )

"""Built-in datasets: TensorFlow-Playground-style 2-D sets, scikit-learn's bundled tables, and
MNIST / Fashion-MNIST read from the user's Keras cache.

Nothing here touches the network (:mod:`engine.data.download` fills the Keras cache when the
user asks). scikit-learn is imported inside the loaders (it is slow to
import); Keras is never imported: its cache files are read directly.

The 2-D sets share three parameters: ``n_samples`` (default 400), ``noise`` (the standard
deviation of Gaussian noise added to each coordinate, after labelling) and ``seed`` (default 0;
the same seed always gives the same points). All of them are shuffled, so a split taken from
the end (as Keras' ``validation_split`` does) still holds every class.
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.files import Dataset, read_npz_arrays
from engine.data.idx import read_idx
from engine.errors import DataError

__all__ = [
    "BUILTIN_DATASETS",
    "BuiltinInfo",
    "ParamInfo",
    "builtin_param_problems",
    "keras_datasets_dirs",
    "keras_home",
    "load_builtin",
    "resolve_params",
]


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a built-in dataset.

    Attributes
    ----------
    kind : {int, float}
        The value's type (an integral float such as ``200.0`` is accepted for ``int``).
    default : int or float
    minimum, maximum : float
        Inclusive bounds.
    description : str
        One line for a tooltip.
    """

    kind: type
    default: int | float
    minimum: float
    maximum: float
    description: str


@dataclass(frozen=True)
class BuiltinInfo:
    """What a built-in dataset is, for the GUI and for validation.

    Attributes
    ----------
    name : str
        The spec's ``"name"``.
    description : str
        One sentence for the dataset panel.
    task : {"classification", "regression"}
    feature_shape : tuple of int
        Shape of one input sample.
    params : dict of str to ParamInfo
        The parameters the spec may set; all optional.
    n_classes : int or None
        Fixed number of classes; None for regression or when ``n_classes_param`` decides.
    n_classes_param : str or None
        The parameter that sets the number of classes (``"centers"`` for blobs).
    image_shape : (int, int, int) or None
        What one sample is as an image, (height, width, channels): ``(8, 8, 1)`` for the
        digits, ``(28, 28, 1)`` for MNIST and Fashion-MNIST; None for the other sets. The
        samples themselves are flat (``feature_shape``); a model whose input is the image
        gets them as images (:mod:`engine.data.layout`).
    source : str
        ``"generated"``, ``"scikit-learn"`` or ``"keras cache"``.
    loader : callable
        Builds the :class:`Dataset` from the resolved parameters (keyword arguments).
    """

    name: str
    description: str
    task: str
    feature_shape: tuple[int, ...]
    params: dict[str, ParamInfo]
    n_classes: int | None
    source: str
    n_classes_param: str | None = None
    loader: Callable[..., Dataset] | None = field(default=None, repr=False, compare=False)
    image_shape: tuple[int, int, int] | None = None

    def classes_for(self, params: dict[str, Any]) -> int | None:
        """Number of classes given resolved parameters (see :func:`resolve_params`)."""
        if self.n_classes_param is not None:
            return int(params[self.n_classes_param])
        return self.n_classes


def _n_samples(default: int = 400) -> ParamInfo:
    return ParamInfo(int, default, 2, 100_000, "Number of points, split evenly between classes.")


def _noise(default: float) -> ParamInfo:
    return ParamInfo(
        float, default, 0.0, 1.0, "Standard deviation of Gaussian noise added to each coordinate."
    )


_SEED = ParamInfo(int, 0, 0, 2**32 - 1, "Random seed; the same seed gives the same points.")


# --------------------------------------------------------------------------------------------
# 2-D generated sets
# --------------------------------------------------------------------------------------------


def _split_counts(n: int, k: int) -> list[int]:
    return [n // k + (c < n % k) for c in range(k)]


def _finish_2d(
    x: np.ndarray, y: np.ndarray, name: str, n_classes: int, class_names: list[str] | None = None
) -> Dataset:
    # Kept in float64, as generated: load_builtin casts to the project's dtype once.
    return Dataset(
        x=np.ascontiguousarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.int64),
        task="classification",
        n_classes=n_classes,
        class_names=class_names or [str(c) for c in range(n_classes)],
        feature_names=["x0", "x1"],
        name=f"{name} ({len(x)} samples)",
    )


def _xor(n_samples: int, noise: float, seed: int) -> Dataset:
    # TensorFlow Playground's XOR: uniform points kept a little away from the axes (its
    # padding 0.3 of 5, here 0.06 of 1) so the clean labels are unambiguous.
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    pad = 0.06
    points = u * (1.0 - pad) + np.where(u >= 0.0, pad, -pad)
    y = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    # Drawn even when noise is 0, so that changing only the noise keeps the same points.
    points = points + rng.normal(0.0, noise, size=points.shape)
    return _finish_2d(points, y, "xor", 2, ["different signs", "same signs"])


def _spiral(n_samples: int, noise: float, seed: int, n_classes: int) -> Dataset:
    # TensorFlow Playground's spiral generalised to k arms: radius grows linearly to 1 over
    # 1.75 turns, arm c starts at angle 2*pi*c/k.
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c, m in enumerate(_split_counts(n_samples, n_classes)):
        r = np.arange(m) / max(m, 1)
        t = 1.75 * 2.0 * math.pi * r + 2.0 * math.pi * c / n_classes
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, c, dtype=np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys)
    x = x + rng.normal(0.0, noise, size=x.shape)  # drawn even for noise 0, as in _xor
    order = rng.permutation(n_samples)
    return _finish_2d(x[order], y[order], "spiral", n_classes)


def _circles(n_samples: int, noise: float, seed: int, factor: float) -> Dataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples, noise=noise or None, factor=factor, random_state=seed)
    return _finish_2d(x, y, "circles", 2, ["outer", "inner"])


def _moons(n_samples: int, noise: float, seed: int) -> Dataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples, noise=noise or None, random_state=seed)
    return _finish_2d(x, y, "moons", 2)


def _blobs(n_samples: int, noise: float, seed: int, centers: int) -> Dataset:
    from sklearn.datasets import make_blobs

    # Centres evenly spaced on the unit circle rather than drawn at random in a box: they never
    # overlap by bad luck, and the picture keeps the scale of the other 2-D sets.
    angles = 2.0 * math.pi * np.arange(centers) / centers
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x, y = make_blobs(n_samples, n_features=2, centers=points, cluster_std=noise, random_state=seed)
    return _finish_2d(x, y, "blobs", centers)


# --------------------------------------------------------------------------------------------
# scikit-learn's bundled tables (shipped with scikit-learn, no download)
# --------------------------------------------------------------------------------------------


def _sklearn_table(name: str) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)  # load_builtin casts to the project's dtype
    feature_names = [str(f) for f in bunch.feature_names]
    label = f"{name} ({len(x)} samples)"
    if name == "diabetes":
        return Dataset(
            x=x,
            y=np.asarray(bunch.target, dtype=np.float64).reshape(-1, 1),
            task="regression",
            feature_names=feature_names,
            name=label,
        )
    class_names = [str(c) for c in bunch.target_names]
    return Dataset(
        x=x,
        y=np.asarray(bunch.target, dtype=np.int64),
        task="classification",
        n_classes=len(class_names),
        class_names=class_names,
        feature_names=feature_names,
        name=label,
    )


# --------------------------------------------------------------------------------------------
# Keras cache (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------------------------

_FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_FASHION_FILES = {
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_train": "train-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
}


def keras_home() -> pathlib.Path:
    """Keras' home folder, as ``keras.src.backend.config`` decides it: ``$KERAS_HOME``, else
    ``~/.keras`` (``/tmp/.keras`` when the home folder is not writable)."""
    home = os.environ.get("KERAS_HOME")
    if home is None:
        user_home = os.path.expanduser("~")
        home = os.path.join(user_home if os.access(user_home, os.W_OK) else "/tmp", ".keras")
    return pathlib.Path(os.path.expanduser(home))


def keras_datasets_dirs() -> list[pathlib.Path]:
    """The folders where Keras keeps downloaded datasets, in the order Keras uses them.

    Mirrors ``keras.src.backend.config`` and ``keras.src.utils.file_utils.get_file``: the
    Keras home is ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when the home folder is
    not writable); datasets go to ``<home>/datasets``, or to ``/tmp/.keras/datasets`` when the
    Keras home is not writable. The fallback is listed only in that case.

    Returns
    -------
    list of Path
        One or two folders; the first is where a user should put the files.
    """
    base = keras_home()
    dirs = [base / "datasets"]
    if not os.access(base, os.W_OK):
        tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        fallback = pathlib.Path(tmp) / ".keras" / "datasets"
        if fallback != dirs[0]:
            dirs.append(fallback)
    return dirs


def _find_cached(relative: str) -> pathlib.Path | None:
    for folder in keras_datasets_dirs():
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    return None


def cache_problem(title: str, loader: str, wanted: list[str]) -> str:
    """'' when the first of ``wanted`` (paths relative to a Keras datasets folder) is cached,
    else the message saying how to get it. Only looks for the file: nothing is loaded."""
    if _find_cached(wanted[0]) is not None:
        return ""
    return str(_not_cached(title, loader, wanted))


class NotCachedError(DataError):
    """A Keras-download dataset that is not in the Keras cache (nothing is wrong with it: it
    is not downloaded yet)."""


def _not_cached(title: str, loader: str, wanted: list[str]) -> NotCachedError:
    dirs = keras_datasets_dirs()
    primary = dirs[0] / wanted[0]
    also = f" (also looked in {dirs[1]})" if len(dirs) > 1 else ""
    files = ", ".join(pathlib.Path(w).name for w in wanted)
    folder = primary.parent
    from engine.data.download import KERAS_DOWNLOADS

    if loader in KERAS_DOWNLOADS:
        get = (
            f"To get it, use Download {title} in the window's Dataset panel, or run  python -m "
            f'engine.data.download {loader}  (or  python -c "import keras; keras.datasets.'
            f'{loader}.load_data()"), which saves it into the Keras cache; or copy {files} '
            f"into {folder}."
        )
    else:
        get = (
            f'To get it, run  python -c "import keras; keras.datasets.{loader}.load_data()"  '
            f"on a machine with internet access (it saves the data into the Keras cache), or "
            f"copy {files} into {folder}."
        )
    return NotCachedError(
        f"{title} is not in the Keras cache: {primary} does not exist{also}. NN Designer "
        f"downloads data only when asked to. {get}"
    )


def _check_images(
    arrays: dict[str, np.ndarray], title: str, sources: dict[str, str], n_classes: int
) -> None:
    for split in ("train", "test"):
        xk, yk = f"x_{split}", f"y_{split}"
        x, y = arrays[xk], arrays[yk]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataError(
                f"{title} cache file is damaged: '{xk}' should be uint8 images of shape "
                f"(n, 28, 28), found {x.dtype} {x.shape}; delete it and fetch it again",
                where=sources[xk],
            )
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
            raise DataError(
                f"{title} cache file is damaged: '{yk}' should be {len(x)} integer labels, "
                f"found {y.dtype} {y.shape}; delete it and fetch it again",
                where=sources[yk],
            )
        if len(y) and int(y.max()) >= n_classes:
            i = int(np.argmax(y >= n_classes))
            raise DataError(
                f"{title} cache file is damaged: {yk}[{i}] is {int(y[i])}, not a class "
                f"0-{n_classes - 1}; delete it and fetch it again",
                where=sources[yk],
            )


def _images_dataset(
    arrays: dict[str, np.ndarray], key: str, class_names: list[str], dtype: np.dtype
) -> Dataset:
    def flat(images: np.ndarray) -> np.ndarray:
        # Flattened and scaled to [0, 1]: the classic Keras MLP example feeds (784,) inputs
        # after dividing by 255. Divided in the project's dtype, in place: one array each.
        x = images.reshape(len(images), -1).astype(dtype)
        x /= dtype.type(255.0)
        return x

    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    return Dataset(
        x=flat(arrays["x_train"]),
        y=arrays["y_train"].astype(np.int64),
        x_test=flat(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        task="classification",
        n_classes=len(class_names),
        class_names=class_names,
        name=f"{key} ({n_train} samples + {n_test} test)",
    )


def _mnist(dtype: np.dtype) -> Dataset:
    path = _find_cached("mnist.npz")
    if path is None:
        raise _not_cached("MNIST", "mnist", ["mnist.npz"])
    keys = ["x_train", "y_train", "x_test", "y_test"]
    arrays = read_npz_arrays(path, keys, what="Keras cache file")
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(
            f"MNIST cache file is damaged: missing key {', '.join(map(repr, missing))}; delete it "
            "and fetch it again",
            where=str(path),
        )
    _check_images(arrays, "MNIST", dict.fromkeys(keys, str(path)), 10)
    return _images_dataset(arrays, "mnist", [str(d) for d in range(10)], dtype)


def _fashion_mnist(dtype: np.dtype) -> Dataset:
    relative = {k: f"fashion-mnist/{name}" for k, name in _FASHION_FILES.items()}
    paths = {k: _find_cached(rel) for k, rel in relative.items()}
    missing = [relative[k] for k, p in paths.items() if p is None]
    if missing:
        raise _not_cached("Fashion-MNIST", "fashion_mnist", missing)
    arrays = {k: read_idx(p) for k, p in paths.items() if p is not None}
    _check_images(arrays, "Fashion-MNIST", {k: str(p) for k, p in paths.items()}, 10)
    return _images_dataset(arrays, "fashion_mnist", list(_FASHION_CLASSES), dtype)


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

BUILTIN_DATASETS: dict[str, BuiltinInfo] = {
    "xor": BuiltinInfo(
        "xor",
        "XOR: uniform points in [-1, 1]^2, class 1 where both coordinates have the same sign.",
        "classification",
        (2,),
        {"n_samples": _n_samples(), "noise": _noise(0.05), "seed": _SEED},
        2,
        "generated",
        loader=_xor,
    ),
    "circles": BuiltinInfo(
        "circles",
        "Circles: a small circle (class 1) inside a large one (class 0), radius 1.",
        "classification",
        (2,),
        {
            "n_samples": _n_samples(),
            "noise": _noise(0.05),
            "seed": _SEED,
            "factor": ParamInfo(
                float, 0.5, 0.01, 0.99, "Radius of the inner circle relative to the outer one."
            ),
        },
        2,
        "generated",
        loader=_circles,
    ),
    "moons": BuiltinInfo(
        "moons",
        "Moons: two interleaving half circles.",
        "classification",
        (2,),
        {"n_samples": _n_samples(), "noise": _noise(0.1), "seed": _SEED},
        2,
        "generated",
        loader=_moons,
    ),
    "spiral": BuiltinInfo(
        "spiral",
        "Spiral: interleaved arms, one per class, winding 1.75 turns out to radius 1.",
        "classification",
        (2,),
        {
            "n_samples": _n_samples(),
            "noise": _noise(0.05),
            "seed": _SEED,
            "n_classes": ParamInfo(int, 2, 2, 10, "Number of arms (classes)."),
        },
        None,
        "generated",
        n_classes_param="n_classes",
        loader=_spiral,
    ),
    "blobs": BuiltinInfo(
        "blobs",
        "Blobs: Gaussian clusters, one per class, centred evenly on the unit circle.",
        "classification",
        (2,),
        {
            "n_samples": _n_samples(),
            "noise": _noise(0.2),
            "seed": _SEED,
            "centers": ParamInfo(int, 3, 2, 10, "Number of clusters (classes)."),
        },
        None,
        "generated",
        n_classes_param="centers",
        loader=_blobs,
    ),
    "iris": BuiltinInfo(
        "iris",
        "Iris: 150 flowers, 4 measurements in cm, 3 species (scikit-learn).",
        "classification",
        (4,),
        {},
        3,
        "scikit-learn",
        loader=lambda: _sklearn_table("iris"),
    ),
    "wine": BuiltinInfo(
        "wine",
        "Wine: 178 wines, 13 chemical measurements, 3 cultivars (scikit-learn).",
        "classification",
        (13,),
        {},
        3,
        "scikit-learn",
        loader=lambda: _sklearn_table("wine"),
    ),
    "breast_cancer": BuiltinInfo(
        "breast_cancer",
        "Breast cancer: 569 tumours, 30 features, malignant or benign (scikit-learn).",
        "classification",
        (30,),
        {},
        2,
        "scikit-learn",
        loader=lambda: _sklearn_table("breast_cancer"),
    ),
    "digits": BuiltinInfo(
        "digits",
        "Digits: 1797 handwritten digits as 8x8 images flattened to 64 values 0..16 "
        "(scikit-learn).",
        "classification",
        (64,),
        {},
        10,
        "scikit-learn",
        loader=lambda: _sklearn_table("digits"),
        image_shape=(8, 8, 1),
    ),
    "diabetes": BuiltinInfo(
        "diabetes",
        "Diabetes: 442 patients, 10 standardized features, disease progression after one "
        "year (25..346) to predict (scikit-learn, regression).",
        "regression",
        (10,),
        {},
        None,
        "scikit-learn",
        loader=lambda: _sklearn_table("diabetes"),
    ),
    "mnist": BuiltinInfo(
        "mnist",
        "MNIST: 60000 + 10000 test handwritten digits, 28x28 flattened to 784 values in "
        "[0, 1], read from the Keras cache.",
        "classification",
        (784,),
        {},
        10,
        "keras cache",
        loader=_mnist,
        image_shape=(28, 28, 1),
    ),
    "fashion_mnist": BuiltinInfo(
        "fashion_mnist",
        "Fashion-MNIST: 60000 + 10000 test clothing images, 28x28 flattened to 784 values in "
        "[0, 1], read from the Keras cache.",
        "classification",
        (784,),
        {},
        10,
        "keras cache",
        loader=_fashion_mnist,
        image_shape=(28, 28, 1),
    ),
}


def _param_value_problem(key: str, info: ParamInfo, value: Any) -> str | None:
    where = f"dataset.{key}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{where}: must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"{where}: must be a finite number, got {value!r}"
    if info.kind is int and not float(value).is_integer():
        return f"{where}: must be a whole number, got {value!r}"
    if not info.minimum <= value <= info.maximum:
        return f"{where}: must be between {info.minimum:g} and {info.maximum:g}, got {value!r}"
    return None


def builtin_param_problems(name: str, params: dict[str, Any]) -> list[str]:
    """Problems with a built-in dataset's parameters, without loading anything.

    Parameters
    ----------
    name : str
        A key of :data:`BUILTIN_DATASETS` (unknown names give one problem).
    params : dict
        The spec's keys other than ``name`` and the keys every spec may hold.

    Returns
    -------
    list of str
        One sentence per problem, each starting with ``dataset.<key>:``; empty when valid.
    """
    info = BUILTIN_DATASETS.get(name)
    if info is None:
        known = ", ".join(sorted(BUILTIN_DATASETS))
        return [f"dataset.name: unknown built-in dataset {name!r}; known: {known}"]
    problems = []
    for key, value in params.items():
        if key not in info.params:
            known = ", ".join(info.params) or "none"
            problems.append(
                f"dataset.{key}: unknown parameter for {name!r} (its parameters: {known})"
            )
            continue
        problem = _param_value_problem(key, info.params[key], value)
        if problem:
            problems.append(problem)
    if not problems and info.n_classes_param is not None:
        resolved = resolve_params(name, params)
        k = resolved[info.n_classes_param]
        if resolved["n_samples"] < k:
            problems.append(
                f"dataset.n_samples: {resolved['n_samples']} points cannot cover {k} classes"
            )
    return problems


def resolve_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults of ``BUILTIN_DATASETS[name]`` overridden by ``params``, with exact types.

    Assumes ``params`` passed :func:`builtin_param_problems`.
    """
    info = BUILTIN_DATASETS[name]
    return {key: p.kind(params.get(key, p.default)) for key, p in info.params.items()}


def load_builtin(
    name: str, params: dict[str, Any], dtype: np.dtype | type | str = np.float32
) -> Dataset:
    """Load or generate a built-in dataset.

    Parameters
    ----------
    name : str
        A key of :data:`BUILTIN_DATASETS`.
    params : dict
        Its parameters (missing ones take their defaults); checked first.
    dtype : floating dtype
        The dtype of ``x`` (and of regression targets); the generated and scikit-learn sets
        are made in float64 and cast once, so a float64 project gets them unrounded.

    Returns
    -------
    Dataset
        ``x`` of ``dtype`` and shape (n, *feature_shape), ``image_shape`` as the table's;
        ``y`` int64 of shape (n,) for classification, ``dtype`` (n, 1) for regression.

    Raises
    ------
    DataError
        Bad parameters, or a Keras-cache dataset that is absent or damaged.
    """
    problems = builtin_param_problems(name, params)
    if problems:
        raise DataError("; ".join(problems))
    loader = BUILTIN_DATASETS[name].loader
    assert loader is not None, f"built-in dataset {name!r} has no loader"
    dtype = np.dtype(dtype)
    resolved = resolve_params(name, params)
    if BUILTIN_DATASETS[name].source == "keras cache":
        dataset = loader(**resolved, dtype=dtype)  # images: divided by 255 in ``dtype``
    else:
        dataset = loader(**resolved)
        dataset.x = np.ascontiguousarray(dataset.x, dtype=dtype)
        if dataset.task == "regression":
            dataset.y = np.ascontiguousarray(dataset.y, dtype=dtype)
    dataset.image_shape = BUILTIN_DATASETS[name].image_shape
    return dataset

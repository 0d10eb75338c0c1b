"""A folder of images with one subfolder per class, as a classification dataset.

Spec: ``{"path": "my_images/", "image_size": [h, w], "color": "grayscale" | "rgb"}``.

- Classes are the subfolders, in sorted order of their names (hidden folders, starting with
  ``.``, are skipped); each holds that class's images (``.png .jpg .jpeg .bmp .gif .tif .tiff
  .webp``; other files are skipped with a note, subfolders of class folders are not read).
- Every image is converted to grayscale (``L``) or RGB and resized to ``image_size`` with
  bilinear filtering. Default size: the images' own when they all share one of at most
  128 x 128 pixels, else 32 x 32. Default colour: grayscale when every image is grayscale,
  else RGB.
- ``x`` is float32 of shape (n, h * w * channels), pixels scaled to [0, 1], flattened in
  Keras' channels-last order (row by row, channels innermost) like the built-in MNIST; the
  dataset's ``image_shape`` is ``(h, w, 1)`` or ``(h, w, 3)``, so a model whose input is an
  image gets them as images (:mod:`engine.data.layout`).

Pillow reads the images; it is imported only when such a dataset is loaded.
"""

from __future__ import annotations

import pathlib
import warnings

import numpy as np

from engine.data.files import Dataset, check_fits
from engine.errors import DataError

__all__ = ["COLORS", "IMAGE_SUFFIXES", "MAX_IMAGE_SIDE", "load_image_folder"]

_FLOAT32 = np.dtype(np.float32)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
COLORS = ("grayscale", "rgb")
#: Largest side ``image_size`` may ask for.
MAX_IMAGE_SIDE = 1024
_DEFAULT_SIZE = (32, 32)
_KEEP_SIZE_UP_TO = 128 * 128
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DataError(
            "reading a folder of images needs the Pillow package; install it with "
            "pip install pillow"
        ) from None
    return Image


def _class_folders(root: pathlib.Path) -> list[pathlib.Path]:
    where = str(root)
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except FileNotFoundError:
        raise DataError("image folder not found", where=where) from None
    except NotADirectoryError:
        raise DataError("is a file, not a folder of images", where=where) from None
    except OSError as exc:
        raise DataError(f"cannot read the folder: {exc.strerror or exc}", where=where) from None
    folders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        loose = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        hint = f" (it holds {len(loose)} images directly)" if loose else ""
        raise DataError(
            f"the folder has no class subfolders{hint}; put each class's images in a subfolder "
            "named after the class (e.g. cats/ and dogs/)",
            where=where,
        )
    return folders


def _open(Image, path: pathlib.Path, load: bool = False):  # noqa: N803 - the PIL.Image module
    """Open an image (its header only unless ``load``); any failure is a DataError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if load:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError("the image is too large to read safely", where=str(path)) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for damaged files
        raise DataError(
            f"not a readable image ({type(exc).__name__}: {exc})", where=str(path)
        ) from None
    return image


def _pixels(
    Image,  # noqa: N803 - the PIL.Image module
    path: pathlib.Path,
    mode: str,
    size: tuple[int, int],
    dtype: np.dtype = _FLOAT32,
) -> np.ndarray:
    """One image as ``dtype`` values in [0, 1], shape (h * w * channels,)."""
    image = _open(Image, path, load=True)
    try:
        with image:
            if image.mode.startswith("I;16") and mode == "L":
                arr = np.asarray(image, dtype=np.float64) / 65535.0 * 255.0
                image = Image.fromarray(arr.round().astype(np.uint8))
            elif image.mode in ("I", "F") and mode == "L":
                # 32-bit images have no fixed range: scale each to its own maximum.
                arr = np.asarray(image, dtype=np.float64)
                top = float(arr.max()) if arr.size and np.isfinite(arr).all() else 0.0
                arr = np.clip(arr / top if top > 0 else arr * 0, 0, 1) * 255.0
                image = Image.fromarray(arr.round().astype(np.uint8))
            converted = image.convert(mode)
            if converted.size != (size[1], size[0]):
                converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(converted, dtype=dtype)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(
            f"cannot convert the image ({type(exc).__name__}: {exc})", where=str(path)
        ) from None
    return pixels.reshape(-1) / dtype.type(255.0)


def load_image_folder(
    root: pathlib.Path,
    image_size: tuple[int, int] | list[int] | None = None,
    color: str | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Load a folder of images, one subfolder per class.

    Parameters
    ----------
    root : Path
        The folder.
    image_size : (int, int), optional
        ``(height, width)`` every image is resized to (see the module docstring for the
        default).
    color : {"grayscale", "rgb"}, optional
        Channels: 1 or 3 (default: grayscale when every image is).
    dtype : floating dtype
        The dtype of ``x``.

    Returns
    -------
    Dataset
        ``x`` of ``dtype`` and shape (n, h * w * channels) in [0, 1]; ``y`` int64 of shape
        (n,);
        ``class_names`` the subfolder names; ``detected`` holds the size and colour used.

    Raises
    ------
    DataError
        No class subfolders, a class folder without images, fewer than 2 classes, an image
        that cannot be read (the message names it), Pillow missing, or images that, resized,
        need more memory than this process may use (checked before any is decoded).
    """
    where = str(root)
    dtype = np.dtype(dtype)
    folders = _class_folders(root)
    Image = _pillow()  # noqa: N806
    notes: list[str] = []
    paths: list[pathlib.Path] = []
    labels: list[int] = []
    sizes: set[tuple[int, int]] = set()
    gray = True
    skipped = 0
    for label, folder in enumerate(folders):
        files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.name)
        chosen = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        skipped += sum(not p.name.startswith(".") for p in files) - len(chosen)
        if not chosen:
            raise DataError(
                f"the class folder '{folder.name}' holds no images "
                f"({', '.join(IMAGE_SUFFIXES)}); add some or remove the folder",
                where=str(folder),
            )
        for path in chosen:
            # Headers only: the pixels are decoded one image at a time below.
            with _open(Image, path) as image:
                sizes.add(image.size)  # PIL sizes are (width, height)
                gray = gray and image.mode in _GRAY_MODES
            paths.append(path)
            labels.append(label)
    if len(folders) < 2:
        raise DataError(
            f"the folder has a single class, '{folders[0].name}'; a classifier needs at least "
            "2 class subfolders",
            where=where,
        )
    if skipped:
        notes.append(f"{skipped} files that are not images were skipped")

    if color is None:
        color = "grayscale" if gray else "rgb"
    if image_size is None:
        (w, h) = min(sizes)
        if len(sizes) == 1 and w * h <= _KEEP_SIZE_UP_TO:
            size = (h, w)
        else:
            size = _DEFAULT_SIZE
            why = "they differ in size" if len(sizes) > 1 else "they are large"
            notes.append(
                f'images resized to {size[0]} x {size[1]} because {why}; set "image_size" to choose'
            )
    else:
        size = (int(image_size[0]), int(image_size[1]))
    mode = "L" if color == "grayscale" else "RGB"
    channels = 1 if mode == "L" else 3
    shape = (len(paths), size[0] * size[1] * channels)
    # np.empty only reserves the pages: without this check a 1024 x 1024 resize of a large
    # folder would run out of memory images later, mid-decode.
    check_fits(
        shape[0] * shape[1] * dtype.itemsize,
        f"{shape[0]} images of {size[0]} x {size[1]} {color} as {dtype.name}",
        where,
    )
    x = np.empty(shape, dtype=dtype)
    for i, path in enumerate(paths):
        x[i] = _pixels(Image, path, mode, size, dtype)
    names = [f.name for f in folders]
    return Dataset(
        x=x,
        y=np.asarray(labels, dtype=np.int64),
        task="classification",
        n_classes=len(names),
        class_names=names,
        name=f"{root.name} ({len(paths)} images, {size[0]}x{size[1]} {color})",
        notes=notes,
        detected={"image_size": [size[0], size[1]], "color": color},
        image_shape=(size[0], size[1], channels),
    )

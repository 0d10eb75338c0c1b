"""The look of a layer type comes from the layer kit: its icon (the type's ``color`` and
``glyph``), its canvas block's hue, a new block's config and the block's subtitle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from designer.canvas.items import BLOCK_H, BLOCK_W, INPUT_CLASS, STRIPE_W, LayerItem
from designer.canvas.scene import _subtitle, new_layer_config
from designer.panels.layer_icons import (
    STROKE_POINTS,
    STROKE_WEIGHTS,
    layer_color,
    layer_pixmap,
)
from engine.layers import INPUT_CLASS_NAME, INPUT_COLOR, INPUT_GLYPH, LAYER_TYPES, LayerType

LOOKS = [*LAYER_TYPES, INPUT_CLASS_NAME]
SIZES = (32, 64)


def pixels(image: QImage) -> np.ndarray:
    """An image as (height, width, 4) RGBA integers."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    raw = np.frombuffer(bytes(img.constBits()), np.uint8)
    return raw.reshape(img.height(), img.width(), 4).astype(int)


def icon(class_name: str, size: int) -> np.ndarray:
    return pixels(layer_pixmap(class_name, size).toImage())


def glyph_mask(rgba: np.ndarray) -> np.ndarray:
    """Where the white glyph covers the tile: bright, grey pixels (tiles are saturated)."""
    rgb = rgba[..., :3]
    return (rgb.min(axis=2) > 200) & (rgba[..., 3] > 0)


def rgb(color: QColor) -> tuple[int, int, int]:
    return (color.red(), color.green(), color.blue())


def glyph_of(class_name: str):
    return INPUT_GLYPH if class_name == INPUT_CLASS_NAME else LAYER_TYPES[class_name].glyph


# ------------------------------------------------------------------------------- icons
@pytest.mark.parametrize("class_name", LOOKS)
def test_every_glyph_uses_strokes_the_painter_draws(class_name):
    glyph = glyph_of(class_name)
    assert glyph, f"{class_name} has no glyph"
    for stroke in glyph:
        assert stroke.kind in STROKE_POINTS, stroke
        assert stroke.weight in STROKE_WEIGHTS, stroke
        wanted = STROKE_POINTS[stroke.kind]
        if wanted is None:
            assert len(stroke.points) >= 2, stroke
        else:
            assert len(stroke.points) == wanted, stroke
        assert all(0.0 <= c <= 1.0 for point in stroke.points for c in point), stroke
        if stroke.kind in ("dot", "circle"):
            assert stroke.size > 0, stroke


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("class_name", LOOKS)
def test_icon_is_a_tile_of_the_types_colour_with_a_glyph(qtbot, class_name, size):
    image = icon(class_name, size)
    want = INPUT_COLOR if class_name == INPUT_CLASS_NAME else LAYER_TYPES[class_name].color
    assert rgb(layer_color(class_name)) == rgb(QColor(want))
    # The tile's left edge, beside any glyph, is the type's colour, opaque.
    edge = image[size // 2, int(size * 0.09)]
    assert tuple(edge[:3]) == rgb(QColor(want)) and edge[3] == 255
    # Not a flat tile: the glyph covers a fair share of it, and not all of it.
    share = glyph_mask(image).mean()
    assert 0.02 < share < 0.5, share


@pytest.mark.parametrize("size", SIZES)
def test_every_type_has_a_glyph_of_its_own(qtbot, size):
    masks = {name: glyph_mask(icon(name, size)) for name in LOOKS}
    for a, b in itertools.combinations(LOOKS, 2):
        differ = (masks[a] != masks[b]).mean()
        assert differ > 0.01, f"{a} and {b} have the same glyph at {size} px"


def test_an_unknown_type_gets_its_initial_on_the_default_colour(qtbot):
    assert "Mystery" not in LAYER_TYPES
    assert rgb(layer_color("Mystery")) == rgb(QColor(LayerType.color))
    mystery, zebra = icon("Mystery", 64), icon("Zebra", 64)
    assert glyph_mask(mystery).any()
    assert (glyph_mask(mystery) != glyph_mask(zebra)).any()
    assert (icon("Mallow", 64) == mystery).all()  # the same initial, the same icon


# ------------------------------------------------------------------------------- canvas
def stripe_color(class_name: str) -> tuple[int, int, int]:
    """The colour stripe on the left edge of a valid block of ``class_name``."""
    item = LayerItem("block", class_name)
    item.set_content(class_name, class_name, None, "(None, 4)", "", [], False)
    margin = 20
    image = QImage(
        int(BLOCK_W) + 2 * margin, int(BLOCK_H) + 2 * margin, QImage.Format.Format_ARGB32
    )
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.translate(QPointF(image.width() / 2, image.height() / 2))
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    rect = item.block_rect()
    x = int(rect.left() + STRIPE_W / 2 + image.width() / 2)
    return tuple(pixels(image)[image.height() // 2, x, :3])


@pytest.mark.parametrize("class_name", LOOKS)
def test_a_block_has_its_types_colour(qtbot, class_name):
    cls = INPUT_CLASS if class_name == INPUT_CLASS_NAME else class_name
    assert stripe_color(cls) == rgb(layer_color(class_name))


def test_the_input_block_is_keras_input_layer(qtbot):
    assert INPUT_CLASS == INPUT_CLASS_NAME
    item = LayerItem("input", INPUT_CLASS)
    assert item.is_input and item.in_port is None
    assert _subtitle(INPUT_CLASS, {}, None) == "Input"


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_a_new_block_starts_valid_from_the_types_new_config(class_name):
    ltype = LAYER_TYPES[class_name]
    cfg = new_layer_config(class_name)
    assert {k: cfg[k] for k in ltype.new_config} == ltype.new_config
    assert ltype.check_config(cfg) == []
    cfg["changed"] = True
    assert "changed" not in new_layer_config(class_name)  # a copy, not the type's own dict


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_the_subtitle_shows_the_activation_else_the_types_setting(class_name):
    ltype = LAYER_TYPES[class_name]
    cfg = ltype.resolve(new_layer_config(class_name))
    activation = cfg.get("activation") if ltype.has_activation else None
    detail = activation if ltype.has_activation else ltype.subtitle(cfg)
    want = f"{class_name} · {detail}" if detail else class_name
    assert _subtitle(class_name, cfg, activation) == want


def test_subtitles_read_as_before():
    # The texts the canvas showed before the layer kit, kept word for word.
    assert _subtitle("Dense", {"units": 3}, "relu") == "Dense · relu"
    assert _subtitle("Activation", {"activation": "tanh"}, "tanh") == "Activation · tanh"
    assert _subtitle("Dropout", {"rate": 0.25}, None) == "Dropout · rate 0.25"
    assert _subtitle("Dropout", {"rate": "x"}, None) == "Dropout"
    assert _subtitle("Concatenate", {"axis": 1}, None) == "Concatenate · axis 1"
    assert _subtitle("Concatenate", {}, None) == "Concatenate"
    assert _subtitle("Flatten", {}, None) == "Flatten"
    assert _subtitle("Mystery", {"rate": 0.5}, None) == "Mystery"

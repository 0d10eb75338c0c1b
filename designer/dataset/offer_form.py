"""The Dataset panel's download offer, shown while the project's data must be downloaded first
(MNIST or Fashion-MNIST not in the Keras cache yet): download it (with progress and Cancel), or
use the built-in digits instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.dataset.state import size_text
from designer.panels.fields import error_color
from engine.data.download import KERAS_DOWNLOADS

if TYPE_CHECKING:
    from designer.dataset.panel import DatasetPanel


def url_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def cached_folder_text() -> str:
    """The Keras datasets folder, with the home folder written ``~``."""
    from engine.data.builtin import keras_datasets_dirs

    folder = str(keras_datasets_dirs()[0])
    home = str(Path.home())
    return "~" + folder[len(home) :] if folder.startswith(home + "/") else folder


class DownloadOffer(QFrame):
    """The offer box (see the module docstring); its buttons call the panel."""

    def __init__(self, panel: DatasetPanel) -> None:
        super().__init__()
        self.panel = panel
        self.setObjectName("dataset_offer")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 6, 8, 6)
        box.setSpacing(6)
        self.offer_label = QLabel()
        self.offer_label.setObjectName("dataset_offer_label")
        self.offer_label.setWordWrap(True)
        self.offer_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.offer_label)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("download_dataset_button")
        self.download_button.clicked.connect(panel.download_dataset)
        self.digits_button = QPushButton("Use the built-in 8×8 digits instead")
        self.digits_button.setObjectName("use_digits_button")
        self.digits_button.setToolTip(
            "scikit-learn's 1797 handwritten digits, 8×8 pixels, shipped with it (no "
            "download): the dataset and the input shape change in one undo step"
        )
        self.digits_button.clicked.connect(panel.use_digits_instead)
        box.addWidget(self.download_button)
        box.addWidget(self.digits_button)
        self.download_row = QWidget()
        row = QHBoxLayout(self.download_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.download_bar = QProgressBar()
        self.download_bar.setObjectName("download_progress")
        self.download_bar.setRange(0, 0)
        self.download_bar.setTextVisible(False)
        self.download_bar.setFixedHeight(10)
        self.cancel_download_button = QToolButton()
        self.cancel_download_button.setObjectName("cancel_download_button")
        self.cancel_download_button.setText("Cancel")
        self.cancel_download_button.clicked.connect(panel.cancel_download)
        row.addWidget(self.download_bar, 1)
        row.addWidget(self.cancel_download_button)
        self.download_label = QLabel()
        self.download_label.setObjectName("download_label")
        self.download_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.download_label)
        box.addWidget(self.download_row)
        self.download_row.setVisible(False)
        self.download_label.setVisible(False)
        self.offer_message = QLabel()
        self.offer_message.setObjectName("dataset_offer_message")
        self.offer_message.setWordWrap(True)
        self.offer_message.setTextFormat(Qt.TextFormat.PlainText)
        self.offer_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.offer_message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.offer_message)
        self.offer_message.setVisible(False)
        self.setVisible(False)

    def starting(self, name: str) -> None:
        """A download of ``name`` starts: no size known yet."""
        self.download_bar.setRange(0, 0)
        self.download_label.setText(f"Connecting to {url_host(KERAS_DOWNLOADS[name].url)}…")

    def show_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(min(1000, round(1000 * done / total)))
            self.download_label.setText(
                f"Downloading… {size_text(done) or '0 bytes'} of {size_text(total)}"
            )
        else:
            self.download_bar.setRange(0, 0)
            self.download_label.setText(f"Downloading… {size_text(done) or '0 bytes'}")

    def sync(self, name: str | None, busy: bool, message: str, failed: bool) -> None:
        """Show the offer for dataset ``name`` (hidden when None); ``busy``: a download runs;
        ``message``: the last download's outcome (``failed``: in red)."""
        self.setVisible(name is not None)
        if name is None:
            return
        info = KERAS_DOWNLOADS[name]
        folder = cached_folder_text()
        self.offer_label.setText(
            f"{info.title} is not on this computer yet: NN Designer reads it from the Keras "
            f"cache ({folder}). Download it once, as Keras' own loader does, or train on "
            "the built-in digits now."
        )
        mb = f"{info.total_size / 1e6:.0f} MB"
        self.download_button.setText(f"Download {info.title} ({mb})")
        files = info.files
        if len(files) == 1:
            what = "checked against Keras' SHA-256; the same file"
        else:
            what = (
                f"{len(files)} files, each checked against its published "
                f"{'MD5' if files[0].algorithm == 'md5' else 'SHA-256'}; the same files"
            )
        self.download_button.setToolTip(
            f"From {url_host(info.url)} into the Keras cache, {what} "
            f"keras.datasets.{name}.load_data() downloads"
        )
        self.download_button.setEnabled(not busy)
        self.download_row.setVisible(busy)
        self.download_label.setVisible(busy)
        shown = "" if busy else message
        self.offer_message.setText(shown)
        self.offer_message.setVisible(bool(shown))
        color = error_color(self) if failed else "palette(placeholder-text)"
        self.offer_message.setStyleSheet(f"color: {color};")

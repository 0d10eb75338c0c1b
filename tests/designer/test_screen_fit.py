"""The real main window fits real screens (issue 13): at 1366×768 and 1920×1080, before and
after training every example a few epochs, in every workspace and in both themes, the window's
minimum size and its frame fit the screen's available geometry, every visible dock has a usable
size, and the dock tabs and the toolbar show their texts in full.

Qt's offscreen platform takes its screens from a JSON file (``offscreen:configfile=...``), and
a QApplication has one platform for its life, so each screen size runs in a subprocess of its
own: this file run as a script (``python tests/designer/test_screen_fit.py 1366x768 light``)
prints one JSON report, which the tests below read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
USABLE = (200, 120)
EPOCHS = 2


def screen_env(tmp_path: Path, size: str) -> dict[str, str]:
    """The environment of a subprocess whose only screen is ``size`` ("WxH")."""
    width, height = (int(v) for v in size.split("x"))
    config = tmp_path / f"screen_{size}.json"
    screen = {"name": "test", "x": 0, "y": 0, "width": width, "height": height}
    screen.update(logicalDpi=96, logicalBaseDpi=96, dpr=1)
    config.write_text(json.dumps({"screens": [screen]}))
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"
    env["NNDESIGNER_SETTINGS_DIR"] = str(tmp_path / "settings")
    env["NNDESIGNER_RECOVERY_DIR"] = str(tmp_path / "recovery")
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_report(tmp_path: Path, size: str, theme: str, *examples: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, size, theme, *examples],
        env=screen_env(tmp_path, size),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line)


def problems_of(report: dict) -> list[str]:
    return [p for check in report["checks"] for p in check["problems"]]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "theme"), [("1366x768", "light"), ("1920x1080", "dark")], ids=["small", "large"]
)
def test_the_window_fits_the_screen_in_every_workspace_after_training(tmp_path, size, theme):
    report = run_report(tmp_path, size, theme)
    width, height = (int(v) for v in size.split("x"))
    assert report["screen"] == [0, 0, width, height]
    stems = {c["example"] for c in report["checks"]}
    # Every example that can load its data here (MNIST needs the Keras cache).
    assert {"xor", "spiral", "iris", "seed_mlp_digits", "skip_connection"} <= stems
    assert {c["workspace"] for c in report["checks"]} == {"design", "train", "backprop"}
    assert all(c["trained"] for c in report["checks"] if c["stage"] == "after")
    assert problems_of(report) == []


def test_a_small_screen_gets_a_window_that_fits_before_any_training(tmp_path):
    """Fast: one example, no training; the first window is 90 % of the screen."""
    report = run_report(tmp_path, "1366x768", "light", "--no-train", "xor")
    assert problems_of(report) == []
    first = report["first_size"]
    assert first == [round(1366 * 0.9), round(768 * 0.9)]


# ------------------------------------------------------------------------- the subprocess
def _check(window, app, example: str, stage: str, trained: bool) -> dict:
    from PySide6.QtWidgets import QDockWidget, QTabBar, QToolBar

    avail = window.screen().availableGeometry()
    problems: list[str] = []
    where = f"{example}/{window.workspaces.current}/{stage}"

    def bad(text: str) -> None:
        problems.append(f"{where}: {text}")

    for name, size in (
        ("minimumSizeHint", window.minimumSizeHint()),
        ("minimumSize", window.minimumSize()),
    ):
        if size.width() > avail.width() or size.height() > avail.height():
            bad(f"window {name} {size.width()}x{size.height()} exceeds the screen")
    frame = window.frameGeometry()
    if not avail.contains(frame):
        bad(f"window frame {frame.getRect()} outside the available {avail.getRect()}")
    for dock in window.findChildren(QDockWidget):
        if not dock.isVisible() or dock.isFloating() or dock.visibleRegion().isEmpty():
            continue
        if dock.width() < USABLE[0] or dock.height() < USABLE[1]:
            bad(f"dock '{dock.windowTitle()}' is {dock.width()}x{dock.height()}")
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible() or not isinstance(bar.parent(), type(window)):
            continue
        if not window.rect().intersects(bar.geometry()):
            continue  # an unused tab bar Qt parks outside the window: never drawn
        for i in range(bar.count()):
            if bar.tabRect(i).width() < bar.tabSizeHint(i).width():
                bad(f"dock tab '{bar.tabText(i)}' is elided ({bar.tabRect(i).width()} px)")
    for bar in window.findChildren(QToolBar):
        if not bar.isVisible():
            continue
        for action in bar.actions():
            if action.isSeparator() or not action.isVisible():
                continue
            widget = bar.widgetForAction(action)
            if widget is None or not widget.isVisible():
                bad(f"toolbar item '{action.text()}' is pushed into the overflow menu")
            elif widget.width() < widget.sizeHint().width():
                bad(f"toolbar item '{action.text()}' is squeezed to {widget.width()} px")
    if window.hint_label.width() < 40:
        bad("the status bar's hint is squeezed away")
    return {
        "example": example,
        "workspace": window.workspaces.current,
        "stage": stage,
        "trained": trained,
        "min_hint": list(window.minimumSizeHint().toTuple()),
        "problems": problems,
    }


def _main(argv: list[str]) -> int:
    size, theme, *rest = argv
    no_train = "--no-train" in rest
    stems = [x for x in rest if not x.startswith("--")]
    from PySide6.QtWidgets import QApplication

    from designer.app import create_application
    from designer.main_window import MainWindow, list_examples
    from designer.theme import apply_theme
    from designer.workspaces import WORKSPACES

    app = create_application([sys.argv[0]])
    apply_theme(app, theme)
    window = MainWindow()
    first = list(window.size().toTuple())
    window.show()
    app.processEvents()
    checks = []
    for example in list_examples():
        stem = example.path.stem
        if (stems and stem not in stems) or example.needs_download:
            continue
        window.document.set_clean()
        assert window.open_example(example.path)
        for stage in ("before",) if no_train else ("before", "after"):
            trained = False
            if stage == "after":
                trained = window.training.train_blocking(EPOCHS, timeout_s=120)
            for name in WORKSPACES:
                if not window.workspaces.switch(name):
                    checks.append(
                        {
                            "example": stem,
                            "workspace": name,
                            "stage": stage,
                            "trained": trained,
                            "problems": [f"{stem}: cannot switch to {name}"],
                        }
                    )
                    continue
                for _ in range(3):
                    app.processEvents()
                checks.append(_check(window, app, stem, stage, trained))
            window.workspaces.switch("design")
    avail = window.screen().availableGeometry()
    print(json.dumps({"screen": list(avail.getRect()), "first_size": first, "checks": checks}))
    window.document.set_clean()
    window.training.shutdown()
    window.close()
    QApplication.processEvents()
    sys.stdout.flush()
    os._exit(0)  # PySide6 may crash tearing Qt down after the report is out


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

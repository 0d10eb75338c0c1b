"""Screenshots of the real window (issue 13): ``python -m designer.screenshots docs/``.

For each screen size (1366×768 and 1920×1080) it starts an X server of that size (Xvfb) with a
window manager (openbox) when ``DISPLAY`` is unset or ``--xvfb`` is given, opens the window
maximized on the spiral example, trains it a few epochs, and grabs the whole screen in each
workspace: ``<folder>/window_<W>x<H>_<workspace>.png``; then the same on the CNN on the built-in
digits (issue 15): ``window_<W>x<H>_cnn_train.png`` (live views of a convolutional network) and
``window_<W>x<H>_cnn_backprop.png`` (Backprop mode at the first convolution's update: its
filters before and after). The pictures are what a user gets, not a rendering at a special size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SIZES = ((1366, 768), (1920, 1080))
_EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
#: (file prefix, example, epochs, workspaces, Backprop phases shown). The spiral: 200 epochs,
#: its own, by when its boundary has formed; Backprop after the forward pass, the loss and the
#: output layer's backward phase. The digits CNN: 5 epochs; Backprop at conv1's update (6
#: forward phases, the loss, 6 backward phases, then conv1's update).
SHOTS = (
    ("", _EXAMPLES / "spiral.json", 200, ("design", "train", "backprop"), 6),
    ("cnn_", _EXAMPLES / "cnn_digits.json", 5, ("train", "backprop"), 14),
)
DISPLAY_BASE = int(os.environ.get("NNDESIGNER_SHOT_DISPLAY", "61"))


def _grab(folder: Path, size: tuple[int, int]) -> list[Path]:
    """In this process (its DISPLAY set): for each of :data:`SHOTS` open, train, switch, grab.
    Returns the PNGs."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.app import create_application
    from designer.document import Document
    from designer.main_window import MainWindow
    from designer.theme import apply_theme
    from engine.project import load_project

    app = create_application([sys.argv[0]])
    apply_theme(app, os.environ.get("NNDESIGNER_THEME") or "light")

    def settle(ms: int = 400) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()
        QApplication.processEvents()

    out = []
    for prefix, example, epochs, workspaces, phases in SHOTS:
        window = MainWindow(Document(load_project(example)))
        window.showMaximized()
        settle(800)
        window.workspaces.switch("train")
        window.training.train_blocking(epochs, timeout_s=120)
        for name in workspaces:
            window.workspaces.switch(name)
            window.canvas.fit_all()
            settle()
            if name == "backprop":
                for _ in range(phases):
                    window.stepper.panel.next_phase()
                settle()
            path = folder / f"window_{size[0]}x{size[1]}_{prefix}{name}.png"
            if not window.screen().grabWindow(0).save(str(path), "PNG"):
                raise OSError(f"could not write {path}")
            out.append(path)
        window.document.set_clean()
        window.training.shutdown()
        window.close()
        settle()
    return out


def _start_x(display: str, size: tuple[int, int]) -> list[subprocess.Popen]:
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is not installed (apt-get install xvfb openbox)")
    procs = [
        subprocess.Popen(
            ["Xvfb", display, "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    time.sleep(1.0)  # the server has no readiness signal we can wait on portably
    if shutil.which("openbox"):
        env = dict(os.environ, DISPLAY=display)
        procs.append(
            subprocess.Popen(
                ["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
        time.sleep(0.5)
    return procs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        _, folder, w, h = argv
        for p in _grab(Path(folder), (int(w), int(h))):
            print(p, flush=True)
        sys.stdout.flush()
        os._exit(0)
    use_xvfb = "--xvfb" in argv or not os.environ.get("DISPLAY")
    args = [a for a in argv if not a.startswith("--")]
    folder = Path(args[0] if args else "docs")
    folder.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        env = dict(os.environ)
        env.pop("QT_QPA_PLATFORM", None)
        procs: list[subprocess.Popen] = []
        if use_xvfb:
            display = f":{DISPLAY_BASE}"  # one server at a time, each of its own size
            procs = _start_x(display, size)
            env["DISPLAY"] = display
        try:
            cmd = [sys.executable, "-m", "designer.screenshots", "--child", str(folder)]
            cmd += [str(size[0]), str(size[1])]
            subprocess.run(cmd, env=env, check=True, timeout=300)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Screenshots of the real window (issue 13): ``python -m designer.screenshots docs/``.

For each screen size (1366×768 and 1920×1080) it starts an X server of that size (Xvfb) with a
window manager (openbox) when ``DISPLAY`` is unset or ``--xvfb`` is given, opens the window
maximized on the spiral example, trains it a few epochs, and grabs the whole screen in each
workspace: ``<folder>/window_<W>x<H>_<workspace>.png``. The pictures are what a user gets, not
a rendering at a special size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SIZES = ((1366, 768), (1920, 1080))
EXAMPLE = Path(__file__).resolve().parents[1] / "resources" / "examples" / "spiral.json"
EPOCHS = 200  # the spiral example's own: its boundary has formed by then
#: Backprop phases shown: the forward pass, the loss and the output layer's backward phase.
BACKPROP_PHASES = 6
DISPLAY_BASE = int(os.environ.get("NNDESIGNER_SHOT_DISPLAY", "61"))


def _grab(folder: Path, size: tuple[int, int], example: Path, epochs: int) -> list[Path]:
    """In this process (its DISPLAY set): open, train, switch, grab. Returns the PNGs."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.app import create_application
    from designer.document import Document
    from designer.main_window import MainWindow
    from designer.theme import apply_theme
    from designer.workspaces import WORKSPACES
    from engine.project import load_project

    app = create_application([sys.argv[0]])
    apply_theme(app, os.environ.get("NNDESIGNER_THEME") or "light")
    window = MainWindow(Document(load_project(example)))
    window.showMaximized()

    def settle(ms: int = 400) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()
        QApplication.processEvents()

    settle(800)
    window.workspaces.switch("train")
    window.training.train_blocking(epochs, timeout_s=120)
    out = []
    for name in WORKSPACES:
        window.workspaces.switch(name)
        window.canvas.fit_all()
        settle()
        if name == "backprop":
            for _ in range(BACKPROP_PHASES):
                window.stepper.panel.next_phase()
            settle()
        path = folder / f"window_{size[0]}x{size[1]}_{name}.png"
        if not window.screen().grabWindow(0).save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        out.append(path)
    window.document.set_clean()
    window.training.shutdown()
    window.close()
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
        _, folder, w, h, example, epochs = argv
        for p in _grab(Path(folder), (int(w), int(h)), Path(example), int(epochs)):
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
            cmd += [str(size[0]), str(size[1]), str(EXAMPLE), str(EPOCHS)]
            subprocess.run(cmd, env=env, check=True, timeout=300)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

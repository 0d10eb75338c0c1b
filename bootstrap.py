#!/usr/bin/env python3
"""Set up NN Designer in ./.venv, then open it or run its tests. Needs only Python 3.11+.

    python3 bootstrap.py [PROJECT]        set up, then open the designer on PROJECT
                                          (default: resources/examples/seed_mlp.json)
    python3 bootstrap.py test [ARGS...]   set up, then run pytest ARGS headless; exits with
                                          pytest's status
    python3 bootstrap.py setup            set up only

Setting up, each step skipped when already done:

1. create the virtual environment .venv (with the standard venv module);
2. pip install -e ".[test]" into it, then record a hash of pyproject.toml in .venv; a later run
   with the same hash and a working .venv installs nothing;
3. check that Qt can start here: import PySide6 and create a QApplication in a subprocess, and
   look with ldd for system libraries that Qt's libraries and platform plugin lack. Missing
   ones are installed with apt-get when running as root on a Debian-like system; otherwise
   this prints the `sudo apt-get install ...` line to run and exits with status 2.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".nndesigner-install"
SEED_PROJECT = ROOT / "resources" / "examples" / "seed_mlp.json"
EXTRAS = "test"
# Bump to force a reinstall everywhere when the install recipe itself changes.
RECIPE = "1"

# The Debian/Ubuntu package that ships each shared library Qt may need. Ubuntu's renamed
# "t64" packages (libglib2.0-0t64, libpng16-16t64...) provide these names, and apt-get
# picks the provider.
DEBIAN_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libexpat.so.1": "libexpat1",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "liblz4.so.1": "liblz4-1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libsystemd.so.0": "libsystemd0",
    "libgcrypt.so.20": "libgcrypt20",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libffi.so.8": "libffi8",
    "libbsd.so.0": "libbsd0",
    "libmd.so.0": "libmd0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
# Without a single font Qt warns on every start (and warnings fail the GUI tests).
FONT_PACKAGES = ["fontconfig", "fonts-dejavu-core"]

# The Qt libraries our code and pyqtgraph load, and each platform's plugin and helpers.
QT_MODULES = ["QtCore", "QtGui", "QtWidgets", "QtSvg", "QtOpenGL", "QtOpenGLWidgets", "QtTest"]
PLATFORM_FILES = {
    "offscreen": ["plugins/platforms/libqoffscreen.so"],
    "minimal": ["plugins/platforms/libqminimal.so"],
    "xcb": ["plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"],
    "wayland": ["plugins/platforms/libqwayland.so", "lib/libQt6WaylandClient.so.6"],
}

# Runs in the venv: can Qt start on the platform this run will use, with fonts?
QT_PROBE = r"""
import json, sys
from PySide6 import QtCore, QtGui, QtWidgets
app = QtWidgets.QApplication(["nndesigner-probe"])
print(json.dumps({"platform": app.platformName(), "fonts": len(QtGui.QFontDatabase.families())}))
"""
# Runs in the venv: where PySide6 keeps Qt, without importing any Qt library.
PYSIDE_DIR_PROBE = r"""
import importlib.util, os
spec = importlib.util.find_spec("PySide6")
print(os.path.dirname(spec.origin) if spec and spec.origin else "")
"""
MISSING_LIB_RE = re.compile(r"(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file")


def say(message: str) -> None:
    print(f"bootstrap: {message}", flush=True)


def fail(message: str, status: int = 2) -> None:
    print(f"bootstrap: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, **kwargs)


# --- system packages ---------------------------------------------------------------------------

_apt_updated = False


def can_apt() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages as root, or say what to run and exit 2."""
    global _apt_updated
    packages = sorted(set(packages))
    line = "sudo apt-get install -y " + " ".join(packages)
    if not can_apt():
        if shutil.which("apt-get"):
            fail(f"{why}. Install them, then run this again:\n\n    {line}\n")
        fail(f"{why}. Install the packages that provide them (Debian: {' '.join(packages)}).")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    say(f"{why}; installing with apt-get: {' '.join(packages)}")
    if not _apt_updated:
        if run(["apt-get", "update", "-q"], env=env).returncode != 0:
            fail("apt-get update failed (see above)")
        _apt_updated = True
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if run(cmd, env=env).returncode != 0:
        fail(f"apt-get install failed (see above). To retry by hand:\n\n    {line}\n")


# --- the virtual environment -------------------------------------------------------------------


def venv_works() -> bool:
    if not VENV_PYTHON.exists():
        return False
    done = run(
        [str(VENV_PYTHON), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
    )
    return done.returncode == 0 and done.stdout.strip() == "True"


def ensure_venv() -> None:
    if venv_works():
        return
    if VENV.exists():
        say(f"{VENV} is broken or from another Python; recreating it")
        shutil.rmtree(VENV)
    if importlib.util.find_spec("ensurepip") is None:
        # Debian and Ubuntu ship venv's pip bootstrapper in a separate package.
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        apt_install(
            [f"python{version}-venv"],
            f"{sys.executable} cannot create a virtual "
            f"environment with pip (the ensurepip module is missing)",
        )
    say(f"creating {VENV} with {sys.executable}")
    done = run([sys.executable, "-m", "venv", str(VENV)])
    if done.returncode != 0 or not venv_works():
        shutil.rmtree(VENV, ignore_errors=True)
        fail(f"could not create the virtual environment {VENV} (see above)")


def install_stamp() -> str:
    venv_version = run(
        [str(VENV_PYTHON), "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    ).stdout
    digest = hashlib.sha256()
    # ROOT too: the editable install points at this checkout, so a moved checkout reinstalls.
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    for part in (RECIPE, EXTRAS, str(ROOT), venv_version, pyproject):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def installed() -> bool:
    done = run(
        [
            str(VENV_PYTHON),
            "-c",
            "import importlib.metadata as m; m.version('nndesigner'); import PySide6, pytest",
        ],
        capture_output=True,
    )
    return done.returncode == 0


def ensure_installed() -> None:
    stamp = install_stamp()
    if STAMP.exists() and STAMP.read_text().strip() == stamp and installed():
        say("dependencies are up to date (pyproject.toml unchanged); nothing to install")
        return
    say(f'installing NN Designer and its dependencies into {VENV} (pip install -e ".[{EXTRAS}]")')
    STAMP.unlink(missing_ok=True)
    cmd = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    if not sys.stdout.isatty():
        cmd += ["--progress-bar", "off"]
    cmd += ["-e", f".[{EXTRAS}]"]
    done = run(cmd, cwd=ROOT)
    if done.returncode != 0:
        fail("pip install failed (see above)", done.returncode)
    tmp = STAMP.with_suffix(".tmp")
    tmp.write_text(stamp + "\n")
    os.replace(tmp, STAMP)


# --- can Qt start here? ------------------------------------------------------------------------


def ldd_missing(files: list[Path]) -> set[str]:
    """Shared libraries that ``files`` need and the dynamic loader cannot find."""
    if not shutil.which("ldd"):
        return set()
    missing = set()
    for path in files:
        if not path.exists():
            continue
        out = run(["ldd", str(path)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "=> not found" in line:
                missing.add(line.split()[0])
    return missing


def qt_files(platforms: list[str]) -> list[Path]:
    out = run([str(VENV_PYTHON), "-c", PYSIDE_DIR_PROBE], capture_output=True, text=True).stdout
    if not out.strip():
        fail("PySide6 is not installed in .venv; remove .venv and run this again")
    pyside = Path(out.strip())
    files = []
    for module in QT_MODULES:
        files += sorted(pyside.glob(f"{module}.*.so"))
        files.append(pyside / "Qt" / "lib" / f"lib{module.replace('Qt', 'Qt6', 1)}.so.6")
    for platform in platforms:
        files += [pyside / "Qt" / rel for rel in PLATFORM_FILES.get(platform, [])]
    return files


def probe_qt(env: dict[str, str]) -> tuple[dict | None, str]:
    try:
        done = run(
            [str(VENV_PYTHON), "-c", QT_PROBE], capture_output=True, text=True, env=env, timeout=120
        )
    except subprocess.TimeoutExpired:
        return None, "starting a QApplication took more than 120 s"
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return json.loads(lines[-1]), done.stderr
    return None, done.stderr + done.stdout


def expected_platforms(env: dict[str, str]) -> list[str]:
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return [p.split(":")[0] for p in chosen.split(";") if p]
    found = []
    if env.get("WAYLAND_DISPLAY"):
        found.append("wayland")
    if env.get("DISPLAY"):
        found.append("xcb")
    return found or ["xcb"]


def ensure_qt_runs(env: dict[str, str]) -> None:
    """Exit unless Qt starts with ``env``; install missing system libraries as root."""
    for _attempt in range(3):
        result, errors = probe_qt(env)
        platforms = [result["platform"]] if result else expected_platforms(env)
        missing = ldd_missing(qt_files(platforms)) | set(MISSING_LIB_RE.findall(errors))
        if missing:
            why = f"Qt needs system libraries that are missing: {', '.join(sorted(missing))}"
            unknown = sorted(lib for lib in missing if lib not in DEBIAN_PACKAGES)
            if unknown:
                known = sorted({DEBIAN_PACKAGES[lib] for lib in missing if lib not in unknown})
                hint = f" (Debian packages for the others: {' '.join(known)})" if known else ""
                fail(f"{why}. Install the packages that provide {', '.join(unknown)}{hint}.")
            apt_install([DEBIAN_PACKAGES[lib] for lib in missing], why)
            continue
        if result is None:
            fail("Qt cannot start here:\n" + errors.strip())
        if result["fonts"] == 0:
            apt_install(FONT_PACKAGES, "Qt finds no fonts on this system")
            continue
        return
    fail("Qt still cannot start after installing system packages:\n" + errors.strip())


# --- commands ----------------------------------------------------------------------------------


def setup(env: dict[str, str]) -> None:
    ensure_venv()
    ensure_installed()
    ensure_qt_runs(env)


def venv_env(env: dict[str, str]) -> dict[str, str]:
    env = dict(env, VIRTUAL_ENV=str(VENV))
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return env


def has_display(env: dict[str, str]) -> bool:
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def exec_in_venv(args: list[str], env: dict[str, str]) -> None:
    """Become ``.venv/bin/python ARGS`` (so its exit status and signals are ours)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(ROOT)
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), *args], venv_env(env))


def cmd_test(args: list[str]) -> None:
    """pytest ARGS (paths relative to the repository root), headless."""
    env = dict(os.environ)
    if not has_display(env):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # tests/conftest.py makes the tests offscreen even where there is a display.
    setup(dict(env, QT_QPA_PLATFORM=env.get("QT_QPA_PLATFORM") or "offscreen"))
    say("running the tests: pytest " + " ".join(args))
    exec_in_venv(["-m", "pytest", *args], env)


def cmd_run(args: list[str]) -> None:
    env = dict(os.environ)
    if not has_display(env) and not env.get("QT_QPA_PLATFORM"):
        setup(dict(env, QT_QPA_PLATFORM="offscreen"))
        fail(
            "everything is installed, but there is no display to open a window on (neither "
            "DISPLAY nor WAYLAND_DISPLAY is set). Run this on a desktop, or set "
            "QT_QPA_PLATFORM=offscreen to start without a visible window."
        )
    setup(env)
    # Paths as the caller meant them, before exec_in_venv changes directory.
    project = [a if a.startswith("-") else str(Path(a).resolve()) for a in args]
    project = project or [str(SEED_PROJECT)]
    say("opening NN Designer on " + " ".join(project))
    exec_in_venv(["-m", "designer", *project], env)


def main(argv: list[str]) -> None:
    # This file runs on whatever python3 the user has; the venv inherits its version.
    if sys.version_info < (3, 11):  # noqa: UP036
        fail(f"NN Designer needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return
    if argv and argv[0] == "test":
        cmd_test(argv[1:])
    elif argv and argv[0] == "setup":
        setup(dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM") or "offscreen"))
        say(f"ready: {VENV_PYTHON}")
    elif argv and argv[0] == "run":
        cmd_run(argv[1:])
    else:
        cmd_run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])

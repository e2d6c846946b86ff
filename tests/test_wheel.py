"""The package installs the way users get it: from a wheel, with no Node.js.

``python -m build`` runs once for the module, as the README says: it makes the sdist of the
current tree, then the wheel from that sdist. Node.js is hidden from PATH for the build (so the
sdist must carry the built lab extension) and for the install. The wheel goes beside JupyterLab
into a new virtual environment, where both extensions must be listed as enabled and OK and the
package must import.

The build backend packs an existing lab-extension build as it is, so the fixture first rebuilds
the extension (with Node.js, as the Makefile does) if its sources are newer than the build.
Under ``make test`` the Makefile has just built it and nothing is rebuilt here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABEXT_BUILD = ROOT / "jupyter_mltrack" / "labextension"
# what the extension is built from: the Makefile's EXT_SOURCES
LABEXT_SOURCES = [
    ROOT / "labextension" / "src",
    ROOT / "labextension" / "style",
    ROOT / "labextension" / "schema",
    ROOT / "labextension" / "package.json",
    ROOT / "jupyter_mltrack" / "server" / "openapi.yaml",
]
GENERATED = ROOT / "labextension" / "src" / "generated"
NODE_TOOLS = frozenset({"node", "nodejs", "npm", "npx", "yarn", "yarnpkg", "pnpm", "corepack"})
JUPYTERLAB = "jupyterlab>=4.6,<5"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file() and GENERATED not in p.parents)


def _ensure_current_labextension() -> None:
    """Build the lab extension in the tree unless a build newer than all its sources is there."""
    built = [p.stat().st_mtime for p in _files([LABEXT_BUILD])]
    if built and max(built) >= max(p.stat().st_mtime for p in _files(LABEXT_SOURCES)):
        return
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    jlpm = shutil.which("jlpm", path=env["PATH"])
    assert jlpm, "building the lab extension needs jlpm (JupyterLab) and Node.js"
    for step in (["install"], ["build:prod"]):
        done = subprocess.run(
            [jlpm, *step], cwd=ROOT / "labextension", env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"jlpm {step[0]} failed:\n{done.stdout[-4000:]}{done.stderr}"


def _path_without_node(farm: Path) -> str:
    """This PATH's programs, but for Node.js and its package managers, linked into one folder."""
    farm.mkdir()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        folder = Path(entry)
        if not entry or not folder.is_dir():
            continue
        for program in folder.iterdir():
            link = farm / program.name
            if program.name in NODE_TOOLS or link.exists() or not os.access(program, os.X_OK):
                continue
            if program.is_file():
                link.symlink_to(program.resolve())
    path = str(farm)
    assert not [tool for tool in NODE_TOOLS if shutil.which(tool, path=path)]
    return path


def _clean_env(path: str, home: Path) -> dict[str, str]:
    """The environment of a user's shell without Node.js: no virtualenv active, no Python or
    Jupyter search paths of ours, and user-level Jupyter folders of its own (empty)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "MLTRACK"))
    }
    env["PATH"] = path
    for name in ("config", "data", "runtime"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env["JUPYTER_CONFIG_DIR"] = str(home / "config")
    env["JUPYTER_DATA_DIR"] = str(home / "data")
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output[-6000:]}"
    return output


def _section(output: str, header: str) -> list[str]:
    """The lines listed under one unindented header line of a `jupyter … list` output."""
    lines: list[str] = []
    inside = False
    for line in output.splitlines():
        if line and not line[0].isspace():
            inside = line.strip() == header
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def no_node_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _path_without_node(tmp_path_factory.mktemp("path") / "bin")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory, no_node_path: str) -> tuple[Path, Path]:
    """The sdist and the wheel of the current tree, built once, with Node.js out of reach."""
    _ensure_current_labextension()
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": no_node_path}
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], env, cwd=out)
    [sdist] = out.glob("jupyter_mltrack-*.tar.gz")
    [wheel] = out.glob("jupyter_mltrack-*-py3-none-any.whl")
    return sdist, wheel


def test_sdist_and_wheel_carry_the_built_extension(dists: tuple[Path, Path]) -> None:
    sdist, wheel = dists
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert "install.json" in in_sdist
    assert "jupyter-config/server-config/jupyter_mltrack.json" in in_sdist
    assert "jupyter_mltrack/labextension/package.json" in in_sdist
    assert any(
        re.fullmatch(r"jupyter_mltrack/labextension/static/remoteEntry\.\w+\.js", n)
        for n in in_sdist
    )
    assert not [n for n in in_sdist if "node_modules/" in n or n.startswith(".venv")]

    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name.split("/data/", 1)[-1] for name in archive.namelist()}
    shared = "share/jupyter/labextensions/jupyter-mltrack/"
    for name in ("package.json", "install.json", "static/style.js"):
        assert shared + name in in_wheel
    remote_entry = re.escape(shared) + r"static/remoteEntry\.\w+\.js"
    assert any(re.fullmatch(remote_entry, name) for name in in_wheel)
    assert "etc/jupyter/jupyter_server_config.d/jupyter_mltrack.json" in in_wheel


def test_wheel_installs_without_node_and_enables_both_extensions(
    dists: tuple[Path, Path], no_node_path: str, tmp_path: Path
) -> None:
    _, wheel = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = _clean_env(str(bin_dir) + os.pathsep + no_node_path, tmp_path / "home")
    env["VIRTUAL_ENV"] = str(venv)

    # the wheel's declared dependencies resolve; nothing is built, so Node.js is never asked for
    # (--no-compile: bytecode is beside the point here, and writing it is a third of the time)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--no-compile"]
    _run([*pip, str(wheel), JUPYTERLAB], env, tmp_path)
    assert not [tool for tool in NODE_TOOLS if shutil.which(tool, path=env["PATH"])]

    labextensions = _run([str(bin_dir / "jupyter"), "labextension", "list"], env, tmp_path)
    listed = _section(labextensions, str(venv / "share" / "jupyter" / "labextensions"))
    # install.json makes it say where the extension came from
    mltrack = r"jupyter-mltrack v\S+ enabled OK \(python, jupyter-mltrack\)"
    assert [line for line in listed if re.fullmatch(mltrack, line)], labextensions

    server = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], env, tmp_path)
    listed = _section(server, f"Config dir: {venv / 'etc' / 'jupyter'}")
    assert "jupyter_mltrack enabled" in listed, server
    assert [line for line in listed if re.fullmatch(r"jupyter_mltrack \S+ OK", line)], server

    where = _run(
        [str(bin_dir / "python"), "-c", "import jupyter_mltrack; print(jupyter_mltrack.__file__)"],
        env,
        tmp_path,
    )
    assert Path(where.strip()).is_relative_to(venv), where

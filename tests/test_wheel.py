"""`pip install .` must carry the device package and the board profiles (flash uploads them)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the checkout, so the build leaves nothing in the repo."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(REPO, source, ignore=SKIP)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(work)],
        check=True,
        capture_output=True,
    )
    (built,) = work.glob("micronn-*.whl")
    return built


def _names(wheel: Path) -> set:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.slow
def test_wheel_carries_every_device_package_file(wheel):
    device_files = sorted((REPO / "firmware" / "micronn").rglob("*.py"))
    assert device_files, "firmware/micronn has no .py files"
    names = _names(wheel)
    for path in device_files:
        relative = path.relative_to(REPO / "firmware").as_posix()
        assert f"micronn/_firmware/{relative}" in names


@pytest.mark.slow
def test_wheel_carries_board_profiles_and_device_scripts(wheel):
    names = _names(wheel)
    for path in (REPO / "boards").glob("*.json"):
        assert f"micronn/_boards/{path.name}" in names
    assert "micronn/device_scripts/simulate_runner.py" in names
    assert "micronn/device_scripts/bench_runner.py" in names
    for path in [*(REPO / "docs").glob("*.md"), *(REPO / "docs" / "boards").glob("*.md")]:
        assert f"micronn/_docs/{path.relative_to(REPO / 'docs').as_posix()}" in names
    assert "micronn/cli.py" in names


@pytest.mark.slow
def test_installed_wheel_finds_its_data(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "-t", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from micronn.resources import boards_dir, device_package_dir; "
        "from micronn.boards import list_boards; "
        "print(device_package_dir()); print(boards_dir()); print(','.join(list_boards()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(target)], check=True, capture_output=True, text=True
    )
    device_dir, boards, names = done.stdout.split("\n")[:3]
    assert Path(device_dir) == target / "micronn" / "_firmware" / "micronn"
    assert (Path(device_dir) / "__init__.py").is_file()
    assert Path(boards) == target / "micronn" / "_boards"
    assert {"esp32", "esp32s3", "rp2040", "rp2350"} <= set(names.split(","))

"""``./dev``, the developer entry point, used without a command."""

import subprocess
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[2] / "dev"


@pytest.mark.parametrize("arguments", [[], ["help"], ["--help"]])
def test_dev_without_a_command_prints_its_usage_and_nothing_else(arguments):
    result = subprocess.run(["bash", str(DEV), *arguments], capture_output=True, text=True)

    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("The portal's developer entry point.")
    assert "./dev up" in result.stdout and "./dev test" in result.stdout
    assert "set -" not in result.stdout  # none of the script itself


def test_dev_with_an_unknown_command_names_it_and_fails():
    result = subprocess.run(["bash", str(DEV), "upp"], capture_output=True, text=True)

    assert result.returncode == 2
    assert result.stderr.startswith("unknown command: upp\n")
    assert "./dev up" in result.stderr

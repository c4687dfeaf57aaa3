"""pyproject.toml's metadata is what packaging tools accept without a warning."""

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_licence_is_a_valid_spdx_expression_and_the_build_backend_understands_one():
    project = tomllib.loads(PYPROJECT.read_text())

    licence = project["project"]["license"]
    assert isinstance(licence, str), "PEP 639: a string, not the deprecated {text = …} table"
    assert canonicalize_license_expression(licence) == licence
    # setuptools reads an SPDX expression from 77 on.
    (requirement,) = project["build-system"]["requires"]
    assert Version(requirement.removeprefix("setuptools>=")) >= Version("77")

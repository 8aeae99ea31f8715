"""`pip install .` gives a working package: built and installed (not editable) into a folder of its own and run
from a directory outside the checkout, it finds its data — the kustomize templates' street files, the event
schemas — in the installed package, not in the checkout."""
import os
import shutil
import subprocess
import sys
import sysconfig

import yaml

from support import ROOT

# What a build leaves in the tree or what is not the project: copied sources stay as a clean clone has them.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv*", "node_modules", "var", "build", "*.egg-info", "__pycache__",
                                     ".pytest_cache")


def test_the_installed_package_runs_outside_the_checkout(tmp_path):
    source, site, elsewhere = tmp_path / "source", tmp_path / "site", tmp_path / "elsewhere"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)  # the build writes build/ and *.egg-info beside the sources
    elsewhere.mkdir()
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                                "--target", str(site), str(source)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shutil.rmtree(source)  # nothing may come from the sources any more

    # The installed package first, then this environment's dependencies. -S keeps site's .pth files out: the
    # editable install of the checkout hooks in there, and `shared`, a namespace package, would take the
    # checkout's modules for any the installed package lacked.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "DOORSTEP_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])

    def python(*args):
        return subprocess.run([sys.executable, "-S", *args], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=120)

    where = python("-c", "import doorstep, services, shared, shared.contract_docs as c;"
                         "print(doorstep.__file__, services.__file__, *shared.__path__, c.__file__)")
    assert where.returncode == 0, where.stderr
    paths = where.stdout.split()
    assert len(paths) == 4 and all(path.startswith(str(site) + os.sep) for path in paths), where.stdout

    # A new street's overlay and configuration, from the installed package's data.
    street = python("-m", "doorstep.cli", "new-street", "moumou", "--name", "某某街道", "--out", str(elsewhere))
    assert street.returncode == 0, street.stderr
    overlay = elsewhere / "moumou"
    assert {p.name for p in (overlay / "street").iterdir()} == {"catalog.yaml", "directory.yaml", "stations.yaml"}
    namespace = yaml.safe_load((overlay / "namespace.yaml").read_text("utf-8"))
    assert namespace["metadata"]["annotations"]["doorstep/street-name"] == "某某街道"
    checked = python("-m", "doorstep.cli", "street", "check", str(overlay / "street"))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The event catalog and the AsyncAPI document, generated from the installed schemas: the checked-in ones.
    docs = python("-m", "doorstep.cli", "events", "docs", "--out", str(elsewhere / "docs"))
    assert docs.returncode == 0, docs.stderr
    for name in ("events.md", "asyncapi.yaml"):
        assert (elsewhere / "docs" / name).read_text("utf-8") == (ROOT / "docs" / name).read_text("utf-8"), name

"""The documentation is tested like code: it builds without a warning, its API reference holds
every public name, and every Python example in README.md and docs/ runs.

* **The build** (``make docs`` does the same): Sphinx over ``docs/`` with nitpicky references, once
  per test session, shared by the xdist workers (the first one to get the lock builds, the other
  reads its result). Any warning fails: a broken reference to a jaxrl name, a docstring that is
  not valid reST, a page outside every table of contents.
* **Every public name**: each name of each public module's ``__all__`` (a module whose path has
  no ``_``-prefixed part) is an object of the built inventory (``objects.inv``). The reference is
  generated from the same ``__all__`` (``docs/_ext/jaxrl_docs.py``), so this holds for names
  added later too; it fails if generation ever skips one.
* **Every example**: each fenced ``python`` block of README.md and of the hand-written pages runs,
  the blocks of one page in order in one namespace (a page's examples may build on each other),
  in a temporary working directory. The examples train at tiny sizes (a few thousand env steps)
  so the whole file stays cheap. A block may be exempted by the line
  ``<!-- docs-test: skip (why) -->`` right before it; :data:`SKIPPED` lists the exemptions that
  exist, so a new one is a deliberate change here too. Shell blocks (``sh``) are not run here:
  the commands they show are the CLI's, which ``tests/test_cli.py`` covers.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import io
import json
import os
import pathlib
import pkgutil
import re
import zlib

import pytest

import jaxrl

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

#: ``(page, first line of the block)`` of every block exempted from running, with the reason.
SKIPPED = {
    ("docs/concepts.md", "import jax, jaxrl"):
        "use_all_cores() must run before the process's first JAX computation; the test "
        "process has run many (tests/training/test_cpu_devices.py runs it in a fresh process)",
}

_SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b.*-->")
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w{}-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```",
                    re.M | re.S)


def _pages() -> list[pathlib.Path]:
  """README.md and the hand-written pages (not the generated API and agent pages)."""
  generated = (DOCS / "api", DOCS / "agents" / "generated", DOCS / "_build")
  pages = [p for p in sorted(DOCS.rglob("*.md"))
           if not any(p.is_relative_to(g) for g in generated)]
  return [README, *pages]


def python_blocks(page: pathlib.Path) -> list[tuple[str, bool]]:
  """``(code, skip)`` for every fenced ``python`` block of ``page``, in order."""
  text = page.read_text()
  blocks = []
  for m in _FENCE.finditer(text):
    if m.group("lang") != "python":
      continue
    before = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
    indent = len(m.group("indent"))
    code = "\n".join(line[indent:] for line in m.group("body").splitlines())
    blocks.append((code, bool(_SKIP.search(before))))
  return blocks


def _public_modules() -> list[str]:
  names = ["jaxrl"] + [m.name for m in pkgutil.walk_packages(jaxrl.__path__, "jaxrl.")]
  return sorted(n for n in names if not any(p.startswith("_") for p in n.split(".")))


# --------------------------------------------------------------------------------------------
# The build, once per session
# --------------------------------------------------------------------------------------------

def _build(out: pathlib.Path) -> dict:
  from sphinx.application import Sphinx  # pylint: disable=import-outside-toplevel
  warnings = io.StringIO()
  with contextlib.redirect_stdout(io.StringIO()):
    app = Sphinx(srcdir=DOCS, confdir=DOCS, outdir=out / "html", doctreedir=out / "doctrees",
                 buildername="html", status=None, warning=warnings, freshenv=True,
                 keep_going=True)
    app.build()
  return {"warnings": warnings.getvalue(), "status": app.statuscode}


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[pathlib.Path, dict]:
  """``(html folder, {"warnings": text, "status": int})`` of one build shared by the workers."""
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent          # the folder every worker's basetemp is in
  out = root / "docs-build"
  out.mkdir(exist_ok=True)
  with open(root / "docs-build.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    result_file = out / "result.json"
    if not result_file.exists():
      result_file.write_text(json.dumps(_build(out)))
    result = json.loads(result_file.read_text())
  return out / "html", result


def test_docs_build_without_a_warning(built):
  _, result = built
  assert result["warnings"] == "", "the docs build warned:\n" + result["warnings"]
  assert result["status"] == 0


def _inventory(html: pathlib.Path) -> set[str]:
  data = (html / "objects.inv").read_bytes()
  body = zlib.decompress(data.split(b"\n", 4)[4]).decode()
  return {line.split(" ", 1)[0] for line in body.splitlines() if " py:" in line}


def test_every_public_name_is_in_the_api_reference(built):
  html, _ = built
  documented = _inventory(html)
  missing = []
  for module_name in _public_modules():
    module = importlib.import_module(module_name)
    if module_name not in documented:
      missing.append(module_name)
    missing += [f"{module_name}.{n}" for n in module.__all__
                if f"{module_name}.{n}" not in documented]
  assert not missing, f"public names missing from the API reference: {missing}"


def test_every_registered_agent_has_a_page(built):
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  html, _ = built
  for name, algo in algorithms.ALGORITHMS.items():
    pages = [html / "agents" / f"{name}.html", html / "agents" / "generated" / f"{name}.html"]
    page = next((p for p in pages if p.exists()), None)
    assert page is not None, f"no page for the agent {name!r}"
    text = page.read_text()
    # the generated configuration table: every field, with its default
    for field in algo.config_cls.__dataclass_fields__:
      assert f">{field}<" in text, f"{name}'s page lacks the config field {field!r}"


# --------------------------------------------------------------------------------------------
# The examples
# --------------------------------------------------------------------------------------------

PAGES = [p for p in _pages() if python_blocks(p)]


def test_the_pages_with_examples_are_found():
  names = {p.relative_to(ROOT).as_posix() for p in PAGES}
  assert {"README.md", "docs/concepts.md", "docs/workflow.md",
          "docs/agents/dqn.md", "docs/agents/ppo.md"} <= names


def test_only_the_listed_blocks_are_skipped():
  skipped = {(p.relative_to(ROOT).as_posix(), code.strip().splitlines()[0])
             for p in _pages() for code, skip in python_blocks(p) if skip}
  assert skipped == set(SKIPPED)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_runs(page, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  namespace: dict = {"__name__": "__docs_example__"}
  for i, (code, skip) in enumerate(python_blocks(page)):
    if skip:
      continue
    with contextlib.redirect_stdout(io.StringIO()):
      exec(compile(code, f"{page.relative_to(ROOT)} (python block {i + 1})", "exec"),  # pylint: disable=exec-used
           namespace)


def test_readme_is_a_front_door():
  text = README.read_text()
  assert len(text.splitlines()) < 150
  # the two commands, exactly as CI runs them (.ci/run runs `make test`)
  assert "```sh\nmake run\n```" in text
  assert "```sh\nmake test\n```" in text
  assert "make test" in (ROOT / ".ci" / "run").read_text()
  assert "\ndocs: " in (ROOT / "Makefile").read_text()

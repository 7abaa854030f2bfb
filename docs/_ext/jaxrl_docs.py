"""The parts of jaxrl's documentation that are generated from the code at every build.

* **API reference** (``docs/api/``, not in git): one page per public module (every module of
  the ``jaxrl`` package whose path has no ``_``-prefixed part), documenting every name of its
  ``__all__``. A class or function is documented in full once, at its home (the module that
  defines it, or the first public module listing it when that one is private); every other
  module that re-exports it gets a short entry linking there, so ``jaxrl.agents.DQNConfig`` and
  ``jaxrl.agents.dqn.DQNConfig`` are both reference targets. A name added to an ``__all__`` is
  in the reference at the next build (``tests/test_docs.py`` checks every one).
* **Agents** (``docs/agents/``): for every algorithm of
  :data:`jaxrl.training.algorithms.ALGORITHMS` (and FQI, which is not driven by the runner), a
  hand-written page ``docs/agents/NAME.md`` when there is one (the update as equations, a
  runnable example), else a page generated into ``docs/agents/generated/`` from the agent's
  module docstring. Either way the page's reference part (configuration table from the config
  dataclass: kind, type, default, valid range from its declared ``Rule`` or choices, meaning
  from the docstring; the swept hyperparameters; the command line; references) is generated,
  where a page says ``<!-- jaxrl:agent-reference NAME -->`` (``agent-config``: without the
  references, for a generated page whose module docstring already shows them). ``<!-- jaxrl:agents-table -->``
  and ``<!-- jaxrl:agents-toctree -->`` become the table and the table of contents of every
  agent.

Generated files are written only when their text changes, each by an atomic rename, so two
builds at once (two test workers) never see a half-written page.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import pathlib
import pkgutil
import re
import tempfile
import textwrap
import typing
from typing import Any

DOCS = pathlib.Path(__file__).resolve().parents[1]
API_DIR = "api"
AGENTS_DIR = "agents"
GENERATED_AGENTS = "agents/generated"

#: Agents that the runner does not drive (no ``Trainer``), with their config class.
EXTRA_AGENTS = {"fqi": ("jaxrl.agents.fqi", "FQIConfig",
                        "Fitted Q-iteration on a fixed batch of transitions (batch RL); "
                        "discrete actions")}


# --------------------------------------------------------------------------------------------
# Public modules and names
# --------------------------------------------------------------------------------------------

def public_modules() -> list[str]:
  """Every public module of jaxrl, sorted (a module with a ``_``-prefixed part is private)."""
  import jaxrl  # pylint: disable=import-outside-toplevel
  names = ["jaxrl"] + [m.name for m in pkgutil.walk_packages(jaxrl.__path__, "jaxrl.")]
  return sorted(n for n in names if not any(p.startswith("_") for p in n.split(".")))


def public_names() -> dict[str, tuple[str, ...]]:
  """``{module: its __all__}`` for every public module."""
  return {m: tuple(importlib.import_module(m).__all__) for m in public_modules()}


def _kind(obj: Any) -> str:
  if inspect.ismodule(obj):
    return "module"
  if inspect.isclass(obj):
    return "class"
  if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.ismethod(obj):
    return "function"
  return "data"


def _defines(module_name: str, name: str) -> bool:
  """Whether ``module_name``'s source assigns ``name`` at top level (not only imports it)."""
  module = importlib.import_module(module_name)
  try:
    source = inspect.getsource(module)
  except (OSError, TypeError):
    return False
  return re.search(rf"^{re.escape(name)}\s*(:[^=\n]*)?=", source, re.M) is not None


def homes(names: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], str]:
  """``{(module, name): the module where that object is documented in full}``."""
  out = {}
  listed: dict[int, list[tuple[str, str]]] = {}
  for module_name, all_names in names.items():
    module = importlib.import_module(module_name)
    for name in all_names:
      listed.setdefault(id(getattr(module, name)), []).append((module_name, name))
  for module_name, all_names in names.items():
    module = importlib.import_module(module_name)
    for name in all_names:
      obj = getattr(module, name)
      kind = _kind(obj)
      candidates = [(m, n) for m, n in listed[id(obj)] if n == name]
      if kind == "module":
        out[module_name, name] = obj.__name__
      elif kind in ("class", "function"):
        own = getattr(obj, "__module__", None)
        if (own, name) in candidates:
          out[module_name, name] = own
        else:  # defined in a private module (or elsewhere): the shallowest public listing
          out[module_name, name] = min(candidates, key=lambda c: (c[0].count("."), c[0]))[0]
      else:   # data: documented where it is assigned
        defining = [m for m, _ in candidates if _defines(m, name)]
        out[module_name, name] = defining[0] if defining else module_name
  return out


def _first_line(obj: Any) -> str:
  doc = inspect.getdoc(obj) or ""
  para = doc.strip().split("\n\n", 1)[0]
  return " ".join(para.split())


def api_pages() -> dict[str, str]:
  """``{relative path: reST text}`` of the API reference."""
  names = public_names()
  home = homes(names)
  pages = {}
  toc = []
  for module_name, all_names in names.items():
    module = importlib.import_module(module_name)
    toc.append(f"   {module_name}")
    lines = [module_name, "=" * len(module_name), "",
             f".. automodule:: {module_name}", ""]
    full = [n for n in all_names if home[module_name, n] == module_name
            and _kind(getattr(module, n)) != "module"]
    modules = [n for n in all_names if _kind(getattr(module, n)) == "module"]
    reexports = [n for n in all_names if n not in full and n not in modules]
    if modules:
      lines += ["Submodules", "----------", ""]
      lines += [f"* :mod:`{getattr(module, n).__name__}`: {_inline(_first_line(getattr(module, n)))}"
                for n in modules] + [""]
    if full:
      lines += ["Contents", "--------", ""]
      for n in full:
        lines += _full_entry(module_name, n, getattr(module, n))
    if reexports:
      lines += ["Re-exported names", "-----------------", "",
                "Documented where they are defined; the names below refer to the same objects.",
                "", f".. currentmodule:: {module_name}", ""]
      for n in reexports:
        obj, where = getattr(module, n), home[module_name, n]
        kind = _kind(obj)
        role = {"class": "class", "function": "func"}.get(kind, "data")
        directive = {"class": "class", "function": "function"}.get(kind, "data")
        lines += [f".. py:{directive}:: {n}", "",
                  f"   Re-export of :{role}:`{where}.{n}`"
                  + (f": {_inline(_first_line(obj))}" if kind != "data" else "."), ""]
    pages[f"{API_DIR}/{module_name}.rst"] = "\n".join(lines) + "\n"
  index = ["API reference", "=============", "",
           "Every public module of jaxrl and every name in its ``__all__``, generated from the "
           "code at each build (``docs/_ext/jaxrl_docs.py``). ``import jaxrl`` loads the "
           "subpackages on first use.", "", ".. toctree::", "   :maxdepth: 1", "", *toc, ""]
  pages[f"{API_DIR}/index.rst"] = "\n".join(index)
  return pages


def _inline(text: str) -> str:
  """One docstring line made safe inside a reST paragraph (no dangling references)."""
  return text.replace("|", "\\|")


def _full_entry(module_name: str, name: str, obj: Any) -> list[str]:
  kind = _kind(obj)
  qual = f"{module_name}.{name}"
  if kind == "class":
    return [f".. autoclass:: {qual}", "   :members:", "   :show-inheritance:", ""]
  if kind == "function":
    return [f".. autofunction:: {qual}", ""]
  return [f".. autodata:: {qual}", "   :no-value:" if _long_value(obj) else "", ""]


def _long_value(obj: Any) -> bool:
  return len(repr(obj)) > 200


# --------------------------------------------------------------------------------------------
# Agents
# --------------------------------------------------------------------------------------------

def agents() -> dict[str, tuple[str, type, str]]:
  """``{name: (module, config class, description)}``: the registry's and :data:`EXTRA_AGENTS`."""
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  out = {}
  for name, algo in algorithms.ALGORITHMS.items():
    out[name] = (algo.make_train.__module__, algo.config_cls, algo.description)
  for name, (module, cls, description) in EXTRA_AGENTS.items():
    out.setdefault(name, (module, getattr(importlib.import_module(module), cls), description))
  return out


def _attribute_docs(cls: type) -> dict[str, str]:
  """The ``Attributes:`` section of a class docstring, ``{field: text}`` (continuation lines
  joined)."""
  doc = inspect.getdoc(cls) or ""
  out: dict[str, str] = {}
  lines = doc.splitlines()
  try:
    start = next(i for i, l in enumerate(lines) if l.strip() == "Attributes:")
  except StopIteration:
    return out
  indent = None
  current = None
  for line in lines[start + 1:]:
    if not line.strip():
      if current is not None:
        continue
      continue
    width = len(line) - len(line.lstrip())
    if indent is None:
      indent = width
    if width < indent:
      break
    m = re.match(r"\s*([\w, ]+?)\s*(\([^)]*\))?:\s?(.*)$", line)
    if width == indent and m:
      current = [n.strip() for n in m.group(1).split(",")]
      for n in current:
        out[n] = m.group(3).strip()
    elif current is not None:
      for n in current:
        out[n] += " " + line.strip()
  return out


def _references(module: Any) -> list[str]:
  """The ``References:`` section of a module docstring, one entry per line that starts at the
  section's indentation."""
  doc = inspect.getdoc(module) or ""
  lines = doc.splitlines()
  try:
    start = next(i for i, l in enumerate(lines) if l.strip() == "References:")
  except StopIteration:
    return []
  refs: list[str] = []
  indent = None
  for line in lines[start + 1:]:
    if not line.strip():
      break
    width = len(line) - len(line.lstrip())
    indent = width if indent is None else indent
    if width < indent:
      break
    if width == indent and re.match(r"\s*[A-Z][^\s]*", line) and (
        not refs or refs[-1].rstrip().endswith(".")):
      refs.append(line.strip())
    elif refs:
      refs[-1] += " " + line.strip()
    else:
      refs.append(line.strip())
  return refs


_ROLE = re.compile(r":(\w+):`([^`]+)`")


def _md(text: str) -> str:
  """reST inline markup of a docstring as MyST Markdown (roles become ``{role}`x```)."""
  return _ROLE.sub(lambda m: "{%s}`%s`" % ({"func": "py:func", "class": "py:class",
                                            "mod": "py:mod", "data": "py:data",
                                            "meth": "py:meth", "attr": "py:attr",
                                            "obj": "py:obj"}.get(m.group(1), m.group(1)),
                                           m.group(2)), text)


def _type_name(hint: Any) -> str:
  if isinstance(hint, type):
    return hint.__name__
  return str(hint).replace("typing.", "")


def _range_words(words: str) -> str:
  """``"must be at least 1"`` as ``"at least 1"``, ``"must lie in [0, 1]"`` as ``"in [0, 1]"``."""
  return re.sub(r"\bmust (be |lie )?", "", words)


def config_rows(cls: type) -> list[dict[str, str]]:
  """One row per field of an agent config: name, kind, type, default, valid values, meaning."""
  from jaxrl.agents import config as config_lib  # pylint: disable=import-outside-toplevel
  docs = _attribute_docs(cls)
  hints = typing.get_type_hints(cls)
  rows = []
  for f in dataclasses.fields(cls):
    spec = f.metadata.get(config_lib._KEY)  # pylint: disable=protected-access
    if isinstance(spec, config_lib._Hyperparameter):  # pylint: disable=protected-access
      kind, valid = "hyperparameter", spec.rule.describe()
    elif isinstance(spec, config_lib._Option):  # pylint: disable=protected-access
      kind = "option"
      parts = []
      if spec.choices is not None:
        parts.append("one of " + ", ".join(f"``{c!r}``" for c in spec.choices))
      if spec.rule is not None:
        parts.append(spec.rule.describe())
      if hints[f.name] is bool:
        parts.append("``True`` or ``False``")
      if spec.optional:
        parts.append("or ``None``")
      valid = "; ".join(parts)
    else:
      kind, valid = "option", ""
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else "")
    text = docs.get(f.name, "")
    text = re.sub(r"\s*\(\*hyperparameter\*(; )?", lambda m: " (" if m.group(1) else "", text)
    text = text.replace(" ()", "")
    rows.append({"name": f.name, "kind": kind, "type": _type_name(hints[f.name]),
                 "default": repr(default), "valid": _range_words(valid), "meaning": text})
  return rows


def agent_reference(name: str, references: bool = True) -> str:
  """The generated part of an agent's page, as MyST Markdown (``references``: with the module
  docstring's ``References:``, which a generated page already shows through its docstring)."""
  module_name, cls, description = agents()[name]
  module = importlib.import_module(module_name)
  rows = config_rows(cls)
  out = [f"## Configuration: `{cls.__name__}`", "",
         f"{description}. Every field of {{py:class}}`{cls.__module__}.{cls.__name__}`, "
         "generated from its declaration: *option* fields fix shapes and loop lengths "
         "(changing one recompiles); *hyperparameter* fields are leaves of the vmappable "
         "hyperparameters, which a sweep varies inside one compiled call. A value outside its "
         "valid range is refused before anything compiles.", "",
         "```{list-table}", ":header-rows: 1", ":widths: 24 14 20 42", ":width: 100%", "",
         "* - field", "  - default", "  - valid values", "  - meaning"]
  for r in rows:
    out += [f"* - `{r['name']}`<br>{r['type']}, *{r['kind']}*", f"  - `{r['default']}`",
            f"  - {_md(r['valid']) or 'any'}", f"  - {_md(r['meaning']) or 'see the API'}"]
  out += ["```", ""]
  swept = [r["name"] for r in rows if r["kind"] == "hyperparameter"]
  if swept:
    hp = cls.hyperparams_type()
    out += ["Swept in one compiled call (the fields of "
            f"{{py:class}}`{hp.__module__}.{hp.__name__}`"
            if hasattr(importlib.import_module(hp.__module__), hp.__name__) else
            "Swept in one compiled call (the fields of its hyperparameters",
            "): " + ", ".join(f"`{s}`" for s in swept) + ".", ""]
  from jaxrl.training import algorithms  # pylint: disable=import-outside-toplevel
  out += ["## Command line", ""]
  if name in algorithms.ALGORITHMS:
    out += [f"Every field above is a flag of `jaxrl train {name}` "
            f"(`--{rows[0]['name'].replace('_', '-')}`, ...), with the same defaults and "
            f"checks; `jaxrl train {name} --help` lists them.", "",
            "```sh", f"jaxrl train {name} --help", "```", ""]
  else:
    out += [f"Not driven by `jaxrl train` (it learns from a fixed batch, with no "
            "environment loop to checkpoint); use it from Python.", ""]
  out += ["## API", "", f"{{py:mod}}`{module_name}`: the module's full reference.", ""]
  refs = _references(module) if references else []
  if refs:
    out += ["## References", ""] + [f"* {r}" for r in refs] + [""]
  return "\n".join(out)


def agents_table() -> str:
  rows = ["| agent | what it is | config |", "|---|---|---|"]
  for name, (module_name, cls, description) in agents().items():
    rows.append(f"| [{name}]({_agent_doc(name)}.md) | {description} | "
                f"{{py:class}}`~{cls.__module__}.{cls.__name__}` |")
  return "\n".join(rows) + "\n"


def _agent_doc(name: str) -> str:
  """The agent page's docname relative to docs/agents/."""
  return name if (DOCS / AGENTS_DIR / f"{name}.md").exists() else f"generated/{name}"


def agents_toctree() -> str:
  entries = "\n".join(_agent_doc(n) for n in agents())
  return f"```{{toctree}}\n:maxdepth: 1\n:hidden:\n\n{entries}\n```\n"


def generated_agent_pages() -> dict[str, str]:
  """Pages for the agents that have no hand-written one."""
  pages = {}
  for name, (module_name, _, description) in agents().items():
    if (DOCS / AGENTS_DIR / f"{name}.md").exists():
      continue
    pages[f"{GENERATED_AGENTS}/{name}.md"] = textwrap.dedent(f"""\
        # {name.upper()}

        {description}. (Generated from the code: this agent has no hand-written page yet.)

        ```{{eval-rst}}
        .. automodule:: {module_name}
           :no-index:
        ```

        <!-- jaxrl:agent-config {name} -->
        """)
  return pages


# --------------------------------------------------------------------------------------------
# Sphinx hooks
# --------------------------------------------------------------------------------------------

def write_if_changed(path: pathlib.Path, text: str) -> None:
  """Writes ``text`` to ``path`` by an atomic rename, only when it differs."""
  if path.exists() and path.read_text() == text:
    return
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix + "~")
  with os.fdopen(fd, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def _prune(folder: pathlib.Path, keep: set[pathlib.Path]) -> None:
  """Removes generated pages that are no longer generated (a module or agent gone)."""
  if folder.is_dir():
    for p in folder.iterdir():
      if p.is_file() and p not in keep and p.suffix in (".rst", ".md"):
        p.unlink(missing_ok=True)


def generate(app) -> None:
  srcdir = pathlib.Path(app.srcdir)
  api = api_pages()
  agent_pages = generated_agent_pages()
  for rel, text in {**api, **agent_pages}.items():
    write_if_changed(srcdir / rel, text)
  _prune(srcdir / API_DIR, {srcdir / r for r in api})
  _prune(srcdir / GENERATED_AGENTS, {srcdir / r for r in agent_pages})


_MARKER = re.compile(r"<!-- jaxrl:([\w-]+)(?: (\w+))? -->")


def expand_markers(app, docname, source) -> None:
  del app, docname

  def expand(m):
    what, arg = m.group(1), m.group(2)
    if what == "agent-reference":
      return agent_reference(arg)
    if what == "agent-config":
      return agent_reference(arg, references=False)
    if what == "agents-table":
      return agents_table()
    if what == "agents-toctree":
      return agents_toctree()
    raise ValueError(f"unknown docs marker {m.group(0)!r}")

  source[0] = _MARKER.sub(expand, source[0])


def skip_member(app, what, name, obj, skip, options):
  """Skips what only repeats the class docstring: NamedTuple field accessors and their
  ``_make``/``_replace`` helpers, dataclass fields (documented under ``Attributes``)."""
  del app, what, options
  if name.startswith("_"):
    return True
  if type(obj).__name__ == "_tuplegetter":
    return True
  return skip


_ATTR_LIST = re.compile(r"^(\s+)(\w+(?:, \w+)+): (.*)$")
_BARS = re.compile(r"(?<![|\\`\w])\|([^|`\s][^|`]*?)\|(?![|\w`_])")


def prepare_docstring(app, what, name, obj, options, lines) -> None:
  """Before napoleon: the few reST habits of jaxrl's docstrings that read well as text but not
  as reST.

  * ``low, high: the bounds`` under ``Attributes:`` (one entry for several fields) becomes one
    entry per field, as napoleon expects;
  * ``|delta|`` (an absolute value) is not a substitution: the bars are escaped;
  * a data object without a ``#:`` comment shows no docstring (autodoc would show its type's).
  """
  del app, name, options
  if what in ("data", "attribute") and lines and inspect.getdoc(type(obj)) and (
      " ".join(lines).split() == (inspect.getdoc(type(obj)) or "").split()):
    lines[:] = []
    return
  out = []
  in_attributes = False
  for line in lines:
    if line.strip() in ("Attributes:", "Args:", "Returns:", "Raises:", "Yields:"):
      in_attributes = line.strip() == "Attributes:"
    m = _ATTR_LIST.match(line) if in_attributes else None
    if m:
      out += [f"{m.group(1)}{field}: {m.group(3)}" for field in m.group(2).split(", ")]
      continue
    out.append(line)
  lines[:] = _escape_bars_outside_literals(_literal_blocks(out))


def _escape_bars_outside_literals(lines: list[str]) -> list[str]:
  out = []
  literal_indent = None   # the indentation of the "::" line whose block we are in
  for line in lines:
    indent = len(line) - len(line.lstrip())
    if literal_indent is not None and line.strip() and indent <= literal_indent:
      literal_indent = None
    out.append(line if literal_indent is not None else _escape_bars(line))
    if literal_indent is None and line.rstrip().endswith("::"):
      literal_indent = indent
  return out


_BULLET = re.compile(r"^(\s*)([*+-]|\d+\.|#\.)\s+")


def _literal_blocks(lines: list[str]) -> list[str]:
  """An indented block after a blank line, deeper than the paragraph before it (an equation or
  a file tree laid out by hand), is a literal block: a ``::`` line (which reST then drops) is
  put before it, so it keeps its line breaks instead of becoming a block quote."""
  out: list[str] = []
  para_start = None   # index in out of the first line of the previous paragraph
  prev_blank = True
  for line in lines:
    if not line.strip():
      out.append(line)
      prev_blank = True
      continue
    indent = len(line) - len(line.lstrip())
    if prev_blank and para_start is not None:
      first = out[para_start]
      last = next(l for l in reversed(out) if l.strip())
      bullet = _BULLET.match(first)
      content = bullet.end() if bullet else len(first) - len(first.lstrip())
      directive = first.lstrip().startswith("..") or first.lstrip().startswith(">>>")
      if indent > content and not last.rstrip().endswith("::") and not directive:
        out += [" " * content + "::", ""]
        para_start = len(out)
        out.append(line)
        prev_blank = False
        # the literal block runs while lines stay deeper than its paragraph
        continue
    if prev_blank:
      para_start = len(out)
    out.append(line)
    prev_blank = False
  return out


def _escape_bars(line: str) -> str:
  """Escapes ``|x|`` outside inline literals."""
  parts = re.split(r"(``[^`]*``)", line)
  return "".join(p if p.startswith("``") else _BARS.sub(r"\\|\1\\|", p) for p in parts)


def napoleon_except_data(app, what, name, obj, options, lines) -> None:
  """Napoleon for everything but data and attributes: their one-paragraph ``#:`` comments are
  prose ("Actions of the grid world, in order: ..."), which napoleon would read as
  ``type: description``."""
  from sphinx.ext import napoleon  # pylint: disable=import-outside-toplevel
  if what in ("data", "attribute", "property"):
    return
  napoleon._process_docstring(app, what, name, obj, options, lines)  # pylint: disable=protected-access


def resolve_bare_names(app, env, node, contnode):
  """A reference that names a jaxrl object by its bare name (``:class:`TabularMDP``` inside
  :mod:`jaxrl.mdp.bellman`, which imports it) resolves to the one jaxrl object of that name,
  the nearest to the current module when there are several, as Python's own name lookup would
  find it. Anything else stays unresolved (and fails the build)."""
  if node.get("refdomain") != "py":
    return None
  target = node["reftarget"].removeprefix("~").removeprefix(".")
  if target.startswith("_") or "._" in target or (
      "." in target and not target.startswith("jaxrl.")):
    return None
  domain = env.get_domain("py")
  last = target.rsplit(".", 1)[-1]
  names = _documented_names(domain)
  if last not in names:
    return _private_name(target, contnode)
  modname, classname = node.get("py:module"), node.get("py:class")
  matches = domain.find_obj(env, modname, classname, target, node["reftype"], 1)
  matches = [m for m in matches if m[0].startswith("jaxrl.")]
  if len(matches) > 1 and modname:
    def shared(m):
      a, b = m[0].split("."), modname.split(".")
      return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    best = max(shared(m) for m in matches)
    matches = [m for m in matches if shared(m) == best]
    # one object re-exported under several names: its home (the longest name) is the page
    if len({m[1].node_id for m in matches}) > 1:
      full = [m for m in matches if not m[1].aliased]
      matches = full or matches
  if not matches:
    return _private_name(target, contnode)
  fullname, obj = sorted(matches, key=lambda m: (-m[0].count("."), m[0]))[0]
  from sphinx.util.nodes import make_refnode  # pylint: disable=import-outside-toplevel
  return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, fullname)


_NAMES_CACHE: dict[int, tuple[int, set[str]]] = {}


def _documented_names(domain) -> set[str]:
  """The last components of every documented jaxrl object's name (cached per object count)."""
  objects = domain.objects
  cached = _NAMES_CACHE.get(id(domain))
  if cached is None or cached[0] != len(objects):
    cached = (len(objects), {n.rsplit(".", 1)[-1] for n in objects if n.startswith("jaxrl.")})
    _NAMES_CACHE[id(domain)] = cached
  return cached[1]


@functools.cache
def _private_classes() -> frozenset[str]:
  import sys  # pylint: disable=import-outside-toplevel
  return frozenset(name for module_name, module in list(sys.modules.items())
          if module_name.startswith("jaxrl.") and any(
              p.startswith("_") for p in module_name.split("."))
          for name, value in vars(module).items() if inspect.isclass(value))


def _private_name(target: str, contnode):
  """A bare name defined in a private module (``jaxrl.envs.suites._pipeline``'s
  ``PipelineAdapter``, named by the public classes built on it) has no page: it stays text."""
  return contnode if "." not in target and target in _private_classes() else None


def setup(app):
  app.setup_extension("sphinx.ext.napoleon")
  from sphinx.ext import napoleon  # pylint: disable=import-outside-toplevel
  for listener in list(app.events.listeners.get("autodoc-process-docstring", [])):
    if listener.handler is napoleon._process_docstring:  # pylint: disable=protected-access
      app.disconnect(listener.id)
  app.connect("autodoc-process-docstring", prepare_docstring, priority=100)
  app.connect("autodoc-process-docstring", napoleon_except_data)
  app.connect("missing-reference", resolve_bare_names)
  app.connect("builder-inited", generate)
  app.connect("source-read", expand_markers)
  app.connect("autodoc-skip-member", skip_member)
  return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx configuration of jaxrl's documentation (`make docs`; tests/test_docs.py builds it too).

Pages are MyST Markdown (myst-parser); the API reference and the per-agent pages are generated
at every build from the code (``_ext/jaxrl_docs.py``: the packages' ``__all__`` and the
``ALGORITHMS`` registry), so a new public name or a newly registered agent appears without
editing anything here. ``nitpicky``: every cross-reference must resolve; only names from other
libraries (jax, numpy, flax, optax, ...), which have no pages here, are exempted below.
"""

import os
import pathlib
import sys

DOCS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

# Importing jaxrl builds no JAX program; the docs only read signatures and docstrings.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

project = "jaxrl"
author = "jaxrl contributors"
copyright = "jaxrl contributors"  # pylint: disable=redefined-builtin
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",   # MathJax served from the build, so the equations render offline
    "myst_parser",
    "jaxrl_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "Reinforcement learning in JAX, compiled end to end",
                      "fixed_sidebar": True, "page_width": "1140px", "sidebar_width": "220px",
                      "code_font_size": "0.8em"}  # 100-column code without scrolling
html_static_path = []
html_title = "jaxrl"

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3

# Docstrings are Google style (Args:, Returns:, Attributes:, Raises:) with reST inside.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True          # "Attributes:" as fields: no second target beside :members:
napoleon_use_rtype = False
# Attributes' docstrings give their dtype and shape ("float ``[B]``"); the annotation would add
# chex.Array's expansion (a union of four array types) to every one.
napoleon_attr_annotations = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"
autodoc_inherit_docstrings = False

default_role = "code"             # `x` in a docstring is code, as ``x``

nitpicky = True
# Other libraries' names in signatures and docstrings: they have no page here. Every jaxrl name
# stays checked: a broken reference to one fails the build.
nitpick_ignore_regex = [
    (r"py:.*", r"(jax|jaxlib|jnp|np|numpy|chex|optax|flax|nn|orbax|gymnax|brax|jumanji|navix|"
               r"xminigrid|mujoco_playground|matplotlib|plt|pandas|tyro|tensorboardX|wandb|"
               r"distrax|ml_dtypes|typing|typing_extensions|collections|pathlib|os|types|"
               r"concurrent|dataclasses|enum|abc|io|logging|warnings|functools|contextlib|"
               r"threading|json|hashlib|argparse|subprocess|signal|importlib)\..*"),
    # Builtins and typing spelled bare in annotations and docstrings.
    (r"py:.*", r"(Any|Callable|Iterable|Iterator|Mapping|Sequence|NamedTuple|Literal|Optional|"
               r"Union|TypeVar|Protocol|Generic|ClassVar|Self|Path|PathLike|Array|ArrayLike|"
               r"PRNGKey|PyTree|Params|Numeric|Scalar|Shape|DType|Dtype|PRNGKeyArray|Mesh|"
               r"NamedSharding|PartitionSpec|Figure|Axes|Colormap|DataFrame|Environment|"
               r"EnvParams|EnvState|TimeStep|State|Module|Dense|GradientTransformation|"
               r"OptState|Schedule|ScalarOrSchedule|Updates|Event|Lock|Thread|"
               r"Device|Sharding|Traced|Tracer|TextIO|BinaryIO|IO|float32|int32|bool_|"
               r"ndarray|dtype|generic|integer|floating|number)"),
    # tyro's markers in the command line's dataclasses.
    (r"py:.*", r"(Positional|Suppress|Fixed|OmitArgPrefixes|arg|subcommand)"),
    # Private names (a private base class, a private helper named in a docstring) have no page.
    (r"py:.*", r"(_\w+|.*\._\w+.*)"),
    (r"py:.*", r"(int|float|bool|str|bytes|tuple|list|dict|set|frozenset|object|type|None|"
               r"NoneType|Ellipsis|slice|range|complex|callable|property|classmethod|"
               r"staticmethod|Exception|ValueError|TypeError|RuntimeError|KeyError|OSError|"
               r"FileNotFoundError|FileExistsError|NotImplementedError|AttributeError|"
               r"Warning|UserWarning|DeprecationWarning|StopIteration|BaseException|"
               r"ImportError|ModuleNotFoundError|AssertionError|IndexError|SystemExit|"
               r"KeyboardInterrupt|TimeoutError|ArithmeticError|ZeroDivisionError)"),
]

"""Makes `import airbyte_cdk` cheaper by about 40 %: every command pays it before its first line of work.

- Importing the CDK builds serpyco serializers of the Airbyte protocol's dataclasses, and serpyco reads the
  docstrings of their attributes with `attributes_doc.get_attributes_doc`. That calls `inspect.getsource` for each
  class and each of its bases; on Python 3.11 `inspect.findsource` parses the class's whole module again for every
  class it looks up (3.13 stopped, with `__firstlineno__`). 48 lookups of the protocol's 1,400-line module were
  0.6-0.9 s of a 1.8-2.1 s import. The same docstrings come from one parse per source file (`attribute_docs`).
- requests_cache's backends module imports boto3 (0.2 s) for a DynamoDB cache when it can; the CDK caches in
  SQLite only, so boto3 is hidden while the CDK is imported and requests_cache puts a placeholder there.
- The CDK's declarative JWT authenticator module imports PyJWT and `cryptography` (a 13 MB Rust library, 9 MB
  of it resident for the whole process, and 30 ms of every start), and the CDK imports it for two names that
  only `create_jwt_authenticator` uses. This manifest has no JWT authenticator, so while the CDK is imported the
  module is a stand-in whose two names import it when first called (`_DeferredJwtModule`).
- The import makes over 100,000 objects that live as long as the process, and the garbage collector walks them
  again and again while they are made: collection is paused while the CDK is imported.
"""

from __future__ import annotations

import ast
import functools
import gc
import importlib
import inspect
import linecache
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import attributes_doc

UNUSED_BY_THE_CDK = "boto3"
JWT_MODULE = "airbyte_cdk.sources.declarative.auth.jwt"


@contextmanager
def lightened() -> Iterator[None]:
    """Imports within it (the CDK's first) read attribute docstrings with `attribute_docs`, find no boto3
    unless something imported it before, get `_DeferredJwtModule` for the CDK's JWT module, and run without
    garbage collection; after it, boto3 and the JWT module import again for whatever needs them, and the
    collector is as it was."""
    attributes_doc.get_attributes_doc = attribute_docs
    hidden = UNUSED_BY_THE_CDK not in sys.modules
    if hidden:
        sys.modules[UNUSED_BY_THE_CDK] = None  # the import system's mark for "raise ImportError"
    sys.modules.setdefault(JWT_MODULE, _DeferredJwtModule())
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        if hidden and sys.modules.get(UNUSED_BY_THE_CDK, "") is None:
            del sys.modules[UNUSED_BY_THE_CDK]
        _forget_stand_in()


class _DeferredJwtModule(ModuleType):
    """`airbyte_cdk.sources.declarative.auth.jwt` until something calls what the CDK imports from it:
    `JwtAuthenticator` (the auth package's export) and `JwtAlgorithm` (the factory's), each a function that
    imports the module and calls its class. Any other name imports the module and is its own, except the
    import system's questions (`__path__`: is it a package?), which a plain module answers. So in this process
    `airbyte_cdk.sources.declarative.auth.JwtAuthenticator` builds the CDK's authenticator but is not a class
    (nothing here subclasses it or checks an instance against it)."""

    def __init__(self) -> None:
        super().__init__(JWT_MODULE)
        self.JwtAuthenticator = _deferred("JwtAuthenticator")
        self.JwtAlgorithm = _deferred("JwtAlgorithm")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_jwt_module(), name)


def _deferred(name: str) -> Callable[..., Any]:
    def construct(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real_jwt_module(), name)(*args, **kwargs)

    construct.__name__ = construct.__qualname__ = name
    return construct


def _real_jwt_module() -> ModuleType:
    _forget_stand_in()
    return importlib.import_module(JWT_MODULE)


def _forget_stand_in() -> None:
    if isinstance(sys.modules.get(JWT_MODULE), _DeferredJwtModule):
        del sys.modules[JWT_MODULE]


def attribute_docs(cls: type) -> dict[str, str]:
    """What `attributes_doc.get_attributes_doc` answers: each attribute's docstring (a string literal on the
    line after it), over the class and its bases, the class's own winning."""
    docs: dict[str, str] = {}
    for parent in reversed(cls.mro()):
        own = _own_attribute_docs(parent)
        if own is FSTRING_DOC:
            raise attributes_doc.FStringFound
        docs.update(own)
    return docs


# What a class whose attribute has an f-string for a docstring records: attributes_doc fails on it.
FSTRING_DOC: dict[str, str] = {}


def _own_attribute_docs(cls: type) -> dict[str, str]:
    try:
        filename = inspect.getsourcefile(cls)
    except TypeError:  # built-in classes (object, dict) have no source
        return {}
    return _attribute_docs_by_class(filename).get(cls.__qualname__, {}) if filename else {}


@functools.cache
def _attribute_docs_by_class(filename: str) -> dict[str, dict[str, str]]:
    """The attribute docstrings of every class defined in a file, each class's own, by qualified name (the first
    class of a name winning, as in `inspect.findsource`). Only these are kept, not the file's syntax tree: the
    trees of the protocol's modules were 2 MB held for the life of every process."""
    try:
        tree = ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        return {}
    docs_by_class: dict[str, dict[str, str]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                docs_by_class.setdefault(prefix + child.name, _docs_in(child))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{prefix}{child.name}.<locals>.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return docs_by_class


def _docs_in(definition: ast.ClassDef) -> dict[str, str]:
    docs: dict[str, str] = {}
    for statement, following in zip(definition.body, definition.body[1:], strict=False):
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or not isinstance(following, ast.Expr):
            continue
        if isinstance(following.value, ast.JoinedStr):
            return FSTRING_DOC
        if not isinstance(following.value, ast.Constant) or not isinstance(following.value.value, str):
            continue
        targets = [statement.target] if isinstance(statement, ast.AnnAssign) else statement.targets
        for target in targets:
            if isinstance(target, ast.Name):
                docs[target.id] = following.value.value
    return docs

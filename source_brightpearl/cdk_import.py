"""Makes `import airbyte_cdk` cheaper by about 40 %: every command pays it before its first line of work.

- Importing the CDK builds serpyco serializers of the Airbyte protocol's dataclasses, and serpyco reads the
  docstrings of their attributes with `attributes_doc.get_attributes_doc`. That calls `inspect.getsource` for each
  class and each of its bases; on Python 3.11 `inspect.findsource` parses the class's whole module again for every
  class it looks up (3.13 stopped, with `__firstlineno__`). 48 lookups of the protocol's 1,400-line module were
  0.6-0.9 s of a 1.8-2.1 s import. The same docstrings come from one parse per source file (`attribute_docs`).
- requests_cache's backends module imports boto3 (0.2 s) for a DynamoDB cache when it can; the CDK caches in
  SQLite only, so boto3 is hidden while the CDK is imported and requests_cache puts a placeholder there.
- The import makes over 100,000 objects that live as long as the process, and the garbage collector walks them
  again and again while they are made: collection is paused while the CDK is imported.
"""

from __future__ import annotations

import ast
import functools
import gc
import inspect
import linecache
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import attributes_doc

UNUSED_BY_THE_CDK = "boto3"


@contextmanager
def lightened() -> Iterator[None]:
    """Imports within it (the CDK's first) read attribute docstrings with `attribute_docs`, find no boto3
    unless something imported it before, and run without garbage collection; after it, boto3 imports again
    for whatever needs it, and the collector is as it was."""
    attributes_doc.get_attributes_doc = attribute_docs
    hidden = UNUSED_BY_THE_CDK not in sys.modules
    if hidden:
        sys.modules[UNUSED_BY_THE_CDK] = None  # the import system's mark for "raise ImportError"
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        if hidden and sys.modules.get(UNUSED_BY_THE_CDK, "") is None:
            del sys.modules[UNUSED_BY_THE_CDK]


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

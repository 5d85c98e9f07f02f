"""The CDK imported more cheaply (cdk_import.py): the attribute docstrings read with one parse per file are those
`attributes_doc` reads with one per class, boto3 stays out of the import but importable after it, and the CDK's
JWT module (PyJWT, cryptography) is imported only when a JWT authenticator is built."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import airbyte_cdk.models
import airbyte_protocol_dataclasses.models.airbyte_protocol as protocol
import attributes_doc._base
import pytest

from source_brightpearl.cdk_import import _attribute_docs_by_class, attribute_docs
from unit_tests.builders import probe

ONE_CLASS_A_LOOKUP = attributes_doc._base.get_attributes_doc

DOCUMENTED_CLASSES = '''
import dataclasses


class Base:
    shared: int = 0
    """the base's word"""
    overridden: int = 0
    """the base's, replaced below"""


def decorate(cls):
    return cls


@decorate
@dataclasses.dataclass
class Child(Base):
    overridden: int = 1
    """the child's own"""
    first = second = 2
    """two names, one docstring"""
    undocumented: int = 3
    counted: int = 4
    """after an undocumented one"""
    not_a_string: int = 5
    42

    class Inner:
        deep: str = ""
        """nested"""


def factory():
    class Local:
        inside: int = 0
        """in a function"""

    return Local


if True:
    class Conditional:
        guarded: int = 0
        """under an if"""


class Child2(Child):
    pass
'''


def _imported(path: Path, source: str) -> ModuleType:
    """A module from source in a file, registered where `inspect` looks classes' files up."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    yield _imported(tmp_path_factory.mktemp("documented") / "documented_classes.py", DOCUMENTED_CLASSES)
    del sys.modules["documented_classes"]


def test_given_documented_attributes_in_every_kind_of_place_when_read_then_the_docs_are_attributes_docs(
    documented: ModuleType,
) -> None:
    classes = [
        documented.Base,
        documented.Child,
        documented.Child.Inner,
        documented.factory(),
        documented.Conditional,
        documented.Child2,
    ]

    for cls in classes:
        assert attribute_docs(cls) == ONE_CLASS_A_LOOKUP(cls), cls.__qualname__
    assert attribute_docs(documented.Child2) == {
        "shared": "the base's word",
        "overridden": "the child's own",
        "first": "two names, one docstring",
        "second": "two names, one docstring",
        "counted": "after an undocumented one",
    }


def test_given_an_f_string_docstring_when_read_then_it_fails_as_attributes_doc_does(tmp_path: Path) -> None:
    source = textwrap.dedent('''
        NAME = "x"


        class WithFString:
            value: int = 0
            f"""{NAME}"""
    ''')
    module = _imported(tmp_path / "f_string_doc.py", source)

    with pytest.raises(attributes_doc.FStringFound):
        ONE_CLASS_A_LOOKUP(module.WithFString)
    with pytest.raises(attributes_doc.FStringFound):
        attribute_docs(module.WithFString)


@pytest.mark.parametrize("module", [protocol, airbyte_cdk.models], ids=lambda module: module.__name__)
def test_given_the_classes_the_cdk_serializes_when_read_then_the_docs_are_attributes_docs(module: ModuleType) -> None:
    classes = [cls for _, cls in inspect.getmembers(module, inspect.isclass)]

    assert len(classes) > 40
    assert {cls.__qualname__: attribute_docs(cls) for cls in classes} == {
        cls.__qualname__: ONE_CLASS_A_LOOKUP(cls) for cls in classes
    }


def test_given_a_fresh_interpreter_when_the_package_is_imported_then_serpyco_reads_docs_with_one_parse_per_file() -> (
    None
):
    answer = probe(
        "import source_brightpearl, serpyco_rs._utils as utils\n"
        "from source_brightpearl.cdk_import import attribute_docs\n"
        "print(utils.get_attributes_doc.__wrapped__ is attribute_docs)"
    )

    assert answer == ["True"]


@pytest.mark.skipif(importlib.util.find_spec("boto3") is None, reason="boto3 is not installed (as in the image)")
def test_given_a_fresh_interpreter_when_the_package_is_imported_then_boto3_is_not_but_can_be_after() -> None:
    answer = probe(
        "import sys, source_brightpearl\nimported = 'boto3' in sys.modules\nimport boto3\nprint(imported, boto3.__name__)"
    )

    assert answer == ["False", "boto3"]


def test_given_a_fresh_interpreter_when_the_package_is_imported_then_neither_pyjwt_nor_cryptography_is() -> None:
    answer = probe(
        "import sys, source_brightpearl, source_brightpearl.run\n"
        "print(*(name in sys.modules for name in ('jwt', 'cryptography', 'airbyte_cdk.sources.declarative.auth.jwt')))"
    )

    assert answer == ["False", "False", "False"]


def test_given_the_package_imported_when_the_cdk_builds_a_jwt_authenticator_then_it_is_the_cdks_and_signs() -> None:
    answer = probe(
        """
        import warnings; warnings.simplefilter("ignore")
        import source_brightpearl
        from airbyte_cdk.sources.declarative.models import JwtAuthenticator as JwtAuthenticatorModel
        from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
        definition = {"type": "JwtAuthenticator", "secret_key": "{{ config['key'] }}", "algorithm": "HS256",
                      "token_duration": 60, "jwt_payload": {"iss": "brightpearl"}}
        built = ModelToComponentFactory().create_component(JwtAuthenticatorModel, definition, config={"key": "k" * 32})
        # Only after the build: the factory went through the stand-in, which imported the CDK's module itself.
        import jwt
        from airbyte_cdk.sources.declarative.auth.jwt import JwtAuthenticator
        claims = jwt.decode(built.token, "k" * 32, algorithms=["HS256"])
        print(type(built) is JwtAuthenticator, claims["iss"])
        """
    )

    assert answer == ["True", "brightpearl"]


def test_given_the_protocols_classes_read_then_only_their_docstrings_are_kept_not_the_files_syntax_trees() -> None:
    for _, cls in inspect.getmembers(protocol, inspect.isclass):
        attribute_docs(cls)

    kept = _attribute_docs_by_class(inspect.getsourcefile(protocol.AirbyteRecordMessage))
    assert kept
    assert all(isinstance(doc, str) for docs in kept.values() for doc in docs.values())

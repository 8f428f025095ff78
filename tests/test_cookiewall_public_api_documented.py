"""cookiewall's public API as a developer adopting it reads it: `help()`, an editor's hover
text and the README's chapter on the consent gate must say the same thing as the code.

`tests/test_public_api_types.py` checks that the constructors' docstrings name each of their
options and `tests/test_readme_walkthrough.py` that the README's option table and the
`ReceiptLog(...)` signature match the code. This module covers the rest of what `__all__`
exports: every name, method and property has a docstring of its own, every parameter of a
public function or method is named in its docstring, the README writes out `Policy`,
`Category` and `CookieRule` with the code's defaults, every field of `Consent` is explained
in both places, the hints are precise, and the package tells type checkers it is typed.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

import cookiewall
from cookiewall import Category, Consent, ConsentMiddleware, CookieRule, Policy, ReceiptLog

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CHAPTER_START = "## The consent gate (`cookiewall`)"
CHAPTER_END = "\n## Recording traffic"
SKIPPED = frozenset({"self", "cls", "app"})  # `app`: the ASGI app a middleware wraps


def _chapter() -> str:
    assert CHAPTER_START in README, f"README has no {CHAPTER_START!r} chapter"
    start = README.index(CHAPTER_START)
    return README[start : README.index(CHAPTER_END, start)]


CHAPTER = _chapter()
PUBLIC = {name: getattr(cookiewall, name) for name in cookiewall.__all__}
CLASSES = {name: value for name, value in PUBLIC.items() if inspect.isclass(value)}
FUNCTIONS = {name: value for name, value in PUBLIC.items() if inspect.isfunction(value)}


def _members(cls: type) -> Iterator[tuple[str, object]]:
    """The public methods, class methods and properties a class defines itself."""
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, classmethod | staticmethod | property) or inspect.isfunction(raw):
            yield f"{cls.__name__}.{name}", getattr(cls, name)


METHODS = dict(member for cls in CLASSES.values() for member in _members(cls))


def test_the_public_names_are_the_ones_this_module_checks() -> None:
    # A name added to __all__ is checked below without a change here; this only makes sure
    # the lists above are not empty because of a typo (a class that is not one, say).
    assert set(CLASSES) | set(FUNCTIONS) == set(cookiewall.__all__)
    assert {"Policy.from_toml", "Consent.allows", "ConsentMiddleware.statistics"} <= set(METHODS)


def test_the_package_docstring_introduces_every_public_name() -> None:
    doc = inspect.getdoc(cookiewall) or ""
    missing = [name for name in cookiewall.__all__ if f"`{name}" not in doc]
    assert missing == [], f"help(cookiewall) does not mention {missing}"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_has_a_docstring_of_its_own(name: str) -> None:
    value = PUBLIC[name]
    doc = value.__doc__ or ""
    # A class without one inherits nothing useful (object's), and a dataclass without one
    # gets its signature again as a "docstring": neither says what it is for.
    assert doc.strip(), f"cookiewall.{name} has no docstring"
    assert not doc.startswith(f"{name}("), f"cookiewall.{name}'s docstring is generated: {doc}"
    assert doc != object.__doc__


@pytest.mark.parametrize("qualname", sorted(METHODS))
def test_every_public_method_and_property_has_a_docstring(qualname: str) -> None:
    assert (inspect.getdoc(METHODS[qualname]) or "").strip(), f"{qualname} has no docstring"


def _parameters(function: Callable[..., object]) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name not in SKIPPED]


# The constructors' own docstrings are checked by tests/test_public_api_types.py (the class
# docstring names each option); here, the functions and the methods.
CALLABLES: dict[str, Callable[..., object]] = {
    name: value
    for name, value in {**FUNCTIONS, **METHODS}.items()
    if callable(value) and not isinstance(value, property)
}


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_every_parameter_is_named_in_its_docstring(qualname: str) -> None:
    function = CALLABLES[qualname]
    doc = inspect.getdoc(function) or ""
    missing = [name for name in _parameters(function) if f"`{name}`" not in doc]
    assert missing == [], f"{qualname}'s docstring does not explain {missing}"


CONSTRUCTORS: dict[str, Callable[..., object]] = {
    "Policy": Policy.__init__,
    "Category": Category.__init__,
    "CookieRule": CookieRule,
    "ConsentMiddleware": ConsentMiddleware.__init__,
    "ReceiptLog": ReceiptLog.__init__,
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_the_readme_chapter_names_every_constructor_parameter(name: str) -> None:
    missing = [
        parameter
        for parameter in _parameters(CONSTRUCTORS[name])
        if f"`{parameter}`" not in CHAPTER and not re.search(rf"\b{parameter}=", CHAPTER)
    ]
    assert missing == [], f"README's cookiewall chapter never names {name}'s {missing}"


def _default(node: ast.expr) -> object:
    """A default as the README writes it: a literal, or `timedelta(days=180)`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        assert node.func.id == "timedelta", ast.unparse(node)
        return timedelta(**{k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg})
    return ast.literal_eval(node)


def _written_signature(name: str) -> list[tuple[str, bool, object]]:
    """`Name(a, b=1, *, c=None)` as the chapter writes it, in backticks:
    [(parameter, keyword-only, default or inspect.Parameter.empty)]."""
    found = re.findall(rf"`{name}\(([^`]*)\)`", CHAPTER)
    written = [text for text in found if "=" in text]  # a signature, not a call with values
    assert len(written) == 1, f"README's cookiewall chapter should write {name}(...) once"
    tree = ast.parse(f"def f({written[0].replace(chr(10), ' ')}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    args = tree.args
    defaults: list[ast.expr | None] = [None] * (len(args.args) - len(args.defaults))
    defaults += args.defaults
    result = [
        (arg.arg, False, inspect.Parameter.empty if node is None else _default(node))
        for arg, node in zip(args.args, defaults, strict=True)
    ]
    result += [
        (arg.arg, True, inspect.Parameter.empty if node is None else _default(node))
        for arg, node in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return result


@pytest.mark.parametrize("name", ["Policy", "Category", "CookieRule"])
def test_the_readme_writes_each_policy_signature_with_the_codes_defaults(name: str) -> None:
    actual = [
        (p.name, p.kind is inspect.Parameter.KEYWORD_ONLY, p.default)
        for p in inspect.signature(CONSTRUCTORS[name]).parameters.values()
        if p.name != "self"
    ]
    assert _written_signature(name) == actual


def _consent_paragraph() -> str:
    start = CHAPTER.index("`Consent` (frozen):")
    return CHAPTER[start : CHAPTER.index("\n\n", start)]


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Consent)])
def test_every_consent_field_is_explained_in_help_and_in_the_readme(field: str) -> None:
    assert f"`{field}`" in (inspect.getdoc(Consent) or ""), f"help(Consent) misses {field}"
    assert f"`{field}`" in _consent_paragraph(), f"README's Consent paragraph misses {field}"


def _hints() -> Iterator[tuple[str, str, object]]:
    targets: dict[str, Callable[..., object]] = {**CONSTRUCTORS, **CALLABLES}
    for qualname, function in targets.items():
        hints = typing.get_type_hints(function)
        for parameter in [*_parameters(function), "return"]:
            if parameter in hints:
                yield qualname, parameter, hints[parameter]
    for qualname, value in METHODS.items():
        if isinstance(value, property) and value.fget is not None:
            yield qualname, "return", typing.get_type_hints(value.fget)["return"]


BARE = (dict, list, tuple, set, frozenset, Mapping, Sequence, object)


def test_public_hints_are_precise() -> None:
    # A bare `Any`, `dict` or `Mapping` in a hover says nothing; a user's mypy --strict then
    # lets any value through. (`Any` inside one, as in an ASGI scope's values, is fine.)
    vague = [
        f"{qualname} {parameter}: {hint!r}"
        for qualname, parameter, hint in _hints()
        if hint is typing.Any or hint in BARE
    ]
    assert vague == []


def test_the_wheel_tells_type_checkers_the_package_is_typed() -> None:
    assert (ROOT / "cookiewall" / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["cookiewall"]

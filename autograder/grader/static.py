"""Static checks over a learner's source code (its AST), for rules a value check cannot
see: no Python loops where the exercise asks for vectorised code, no torch inside a
numpy-only function, no call to a forbidden built-in."""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from dataclasses import dataclass
from typing import Any, Iterable

from .compare import CheckFailure

LOOP_NODES = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp)


def source_of(obj: Any) -> str:
    """The source of a function or class, as the learner wrote it in the notebook."""
    target = getattr(obj, "__func__", obj)
    try:
        return textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError) as err:
        found = _class_source(target) if isinstance(target, type) else None
        if found is not None:
            return found
        raise CheckFailure(f"could not read the source of {getattr(obj, '__name__', obj)!r} "
                           f"({err}): define it in a notebook cell and run that cell") from None


def _class_source(cls: type) -> str | None:
    """A class defined in a notebook cell: `inspect` looks for it in its module's file,
    which a notebook's `__main__` does not have. Its methods know their cell (its text is
    in linecache, as for any function), so the class is found there, by name and line."""
    for value in vars(cls).values():
        fn = getattr(value, "__func__", getattr(value, "fget", value))
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        try:
            tree = ast.parse("".join(lines))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__ \
                    and node.lineno <= code.co_firstlineno <= (node.end_lineno or 0):
                return textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
    return None


@dataclass(frozen=True)
class NoLoops:
    """No for/while loops or comprehensions: the exercise asks for vectorised code."""

    why: str = "use vectorised array operations (broadcasting, matmul, sum over an axis)"

    def violations(self, tree: ast.AST) -> list[str]:
        return [f"line {n.lineno}: a Python loop ({type(n).__name__})"
                for n in ast.walk(tree) if isinstance(n, LOOP_NODES)]


@dataclass(frozen=True)
class NoModule:
    """The named module (e.g. torch) is neither imported nor used."""

    module: str
    why: str = ""

    def violations(self, tree: ast.AST) -> list[str]:
        found = []
        for n in ast.walk(tree):
            if isinstance(n, ast.Import) and any(a.name.split(".")[0] == self.module for a in n.names):
                found.append(f"line {n.lineno}: imports {self.module}")
            elif isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == self.module:
                found.append(f"line {n.lineno}: imports from {self.module}")
            elif isinstance(n, ast.Name) and n.id == self.module:
                found.append(f"line {n.lineno}: uses {self.module}")
        return list(dict.fromkeys(found))


@dataclass(frozen=True)
class ForbiddenCalls:
    """None of the named functions is called (by bare name or as an attribute)."""

    names: frozenset[str]
    why: str = ""

    def violations(self, tree: ast.AST) -> list[str]:
        found = []
        for n in ast.walk(tree):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
                if name in self.names:
                    found.append(f"line {n.lineno}: calls {name}()")
        return found


def check_source(obj: Any, rules: Iterable[Any], what: str) -> None:
    """Raise CheckFailure listing every rule the source of `obj` breaks."""
    rules = list(rules)
    if not rules:
        return
    try:
        tree = ast.parse(source_of(obj))
    except SyntaxError as err:
        raise CheckFailure(f"{what}: the source does not parse: {err}") from None
    problems, whys = [], []
    for rule in rules:
        for v in rule.violations(tree):
            problems.append(f"{v}" + (f" ({rule.why})" if rule.why else ""))
            if rule.why and rule.why not in whys:
                whys.append(rule.why)
    if problems:
        hint = f"\nHint: {'; '.join(whys)}" if whys else ""
        raise CheckFailure(f"{what}: the code breaks this exercise's rules\n" + "\n".join(problems) + hint)

"""Spot learner code that reaches for the grader or the kernel instead of answering.

Advice only: verdicts never depend on this review (they are computed outside the kernel,
which holds no oracle). It is easily evaded by indirection, which is why it is not a gate.
Code that imports modules the exercises need none of, walks the interpreter's frames or
modules, runs strings as code, or changes a library's attributes is flagged for the
instructor to look at, with the reason: it is unusual in an answer, whatever it gains.
"""

from __future__ import annotations

import ast
import re

# What an answer may import; anything else (os, sys, importlib, socket, autograder ...)
# is worth a look in a course whose exercises need none of it.
ALLOWED_IMPORTS = frozenset({
    "numpy", "torch", "torchvision", "math", "cmath", "random", "itertools", "functools",
    "collections", "typing", "dataclasses", "copy", "time", "pandas", "matplotlib", "sklearn",
    "PIL", "tqdm", "statistics", "operator", "string", "re", "abc", "enum", "fractions",
    "decimal", "heapq", "bisect", "numbers", "__future__",
})
META_CALLS = frozenset({"exec", "eval", "compile", "__import__", "get_ipython", "globals",
                        "breakpoint", "vars"})
META_ATTRS = frozenset({"_getframe", "f_back", "f_globals", "f_locals", "__builtins__",
                        "__globals__", "__code__", "__subclasses__", "__dict__"})
# Names the course's locked cells import: assigning to their attributes patches a library.
LIBRARY_NAMES = frozenset({"np", "numpy", "torch", "nn", "F", "plt", "pd", "autograder",
                           "math", "random", "sklearn", "torchvision"})
SHELL_OR_MAGIC = re.compile(r"^\s*[!%]", re.M)


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return "?"


def review(sources: list[str]) -> list[str]:
    """Reasons to look at these learner cells (empty when there is none)."""
    reasons: list[str] = []
    for src in sources:
        if SHELL_OR_MAGIC.search(src):
            reasons.append("runs shell commands or IPython magics")
            src = SHELL_OR_MAGIC.sub("#", src)
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        libraries = set(LIBRARY_NAMES)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    top = name.split(".")[0]
                    if top and top not in ALLOWED_IMPORTS:
                        reasons.append(f"imports {top}")
                if isinstance(node, ast.Import):
                    libraries.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in META_CALLS:
                reasons.append(f"calls {node.func.id}()")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("setattr", "delattr") and node.args
                  and _root(node.args[0]) in libraries):
                reasons.append(f"changes an attribute of {_dotted(node.args[0])}")
            elif isinstance(node, ast.Attribute) and (
                    node.attr in META_ATTRS or (node.attr == "modules" and _root(node) == "sys")):
                reasons.append(f"uses .{node.attr}")
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and _root(target) in libraries:
                        reasons.append(f"changes {_dotted(target)}")
    return list(dict.fromkeys(reasons))

"""The import direction of docs/architecture.md: a module imports only from its own layer or
the layers below it, so that the data never reach up into training, nor training into studies."""

import ast
from pathlib import Path

import gankit

LAYERS = [
    {"errors", "files", "threads", "config", "supervised"},
    {"data"},
    {"nets", "objectives", "diffaugment"},
    {"metrics"},
    {"output"},
    {"evaluation"},
    {"sampling"},
    {"run"},
    {"training"},
    {"vae", "downstream"},
    {"studies", "theory"},
    {"lab"},
    {"cli"},
]
SOURCE = Path(gankit.__file__).parent


def layer_of(part: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if part in layer)


def imported_parts(path: Path) -> set[str]:
    """The top-level gankit modules or packages that ``path`` imports."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        parts |= {name.split(".")[1] for name in names if name.startswith("gankit.")}
    return parts


def test_every_module_has_a_layer() -> None:
    parts = {p.relative_to(SOURCE).parts[0].removesuffix(".py") for p in SOURCE.rglob("*.py")}
    parts.discard("__init__")  # the package root loads its names lazily, from every layer
    assert parts == set().union(*LAYERS)


def test_lower_layers_never_import_higher_ones() -> None:
    upward = []
    for path in sorted(SOURCE.rglob("*.py")):
        own = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for part in imported_parts(path):
            if layer_of(part) > layer_of(own):
                upward.append(f"{path.relative_to(SOURCE)} imports gankit.{part}")
    assert upward == []

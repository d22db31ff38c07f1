"""The domain error tree: single inheritance everywhere, and the status each branch maps to."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import httpx
from fastapi import FastAPI

import tunix_rt
from tunix_rt.api.errors import install_error_handlers
from tunix_rt.errors import TunixRTError

PACKAGE = Path(tunix_rt.__file__).parent

EXPECTED_STATUS = {
    "TunixRTError": 400,
    "BadRequestError": 400,
    "NotFoundError": 404,
    "UnknownEvalSetError": 404,
    "UnknownGeneratorError": 404,
    "ConflictError": 409,
    "InvalidInputError": 422,
    "FormatError": 422,
    "UnknownFormatError": 422,
    "StepLabelsError": 422,
    "RecordEncodeError": 422,
    "GeneratorError": 422,
    "DatasetError": 422,
    "ModelLoadError": 422,
    "TokenizerError": 422,
    "TrainingError": 422,
    "UploadRefused": 422,
    "UnavailableError": 503,
    "ConfigurationError": 503,
    "DiskFullError": 503,
}


def error_classes() -> dict[str, tuple[str, list[str]]]:
    """Every class in the package that derives from TunixRTError: name -> (module, base names)."""
    classes: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("tunix_rt", *path.relative_to(PACKAGE).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
                classes[node.name] = (module, bases)
    tree = {"TunixRTError"}
    while grown := {
        name for name, (_, bases) in classes.items() if name not in tree and tree & set(bases)
    }:
        tree |= grown
    return {name: classes[name] for name in tree}


def test_every_domain_error_has_exactly_one_base() -> None:
    found = error_classes()
    assert set(found) == set(EXPECTED_STATUS), "add a new error class to EXPECTED_STATUS"
    several = {name: bases for name, (_, bases) in found.items() if len(bases) != 1}
    assert several == {}


async def test_each_error_maps_to_its_branchs_status() -> None:
    app = FastAPI()
    install_error_handlers(app)
    classes: dict[str, type[TunixRTError]] = {}
    training: dict[str, str] = {}  # raised in worker processes; importing them loads JAX
    for name, (module, bases) in error_classes().items():
        if module.startswith("tunix_rt.training."):
            training[name] = bases[0]
            continue
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, TunixRTError) and len(cls.__bases__) == 1
        classes[name] = cls
    # A training error maps as its base does (the tree is single inheritance).
    assert {name: EXPECTED_STATUS[base] for name, base in training.items()} == {
        name: EXPECTED_STATUS[name] for name in training
    }
    assert training and set(classes) | set(training) == set(EXPECTED_STATUS)

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise classes[name]("the message")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        statuses = {name: (await client.get(f"/raise/{name}")).status_code for name in classes}
    assert statuses == {name: EXPECTED_STATUS[name] for name in classes}


def test_an_unknown_eval_set_reads_as_its_message() -> None:
    from tunix_rt.evals.evalsets import UnknownEvalSetError

    assert str(UnknownEvalSetError("unknown eval set 'x'")) == "unknown eval set 'x'"
    assert repr(UnknownEvalSetError("x")) == "UnknownEvalSetError('x')"

"""``ganlib.measures``: the one index of the book's measures."""

import importlib
import inspect
import pkgutil

import ganlib.measures as measures
import ganlib.models


def test_every_measure_is_in_the_table_documented_and_the_object_at_its_home():
    assert len(set(measures.__all__)) == len(measures.__all__)
    for name in measures.__all__:
        obj = getattr(measures, name)
        assert f":func:`{name}`" in measures.__doc__, f"{name} is missing from the table"
        assert inspect.getdoc(obj), f"{name} has no docstring"
        home = importlib.import_module(obj.__module__)
        assert getattr(home, name) is obj, f"{name} is not the object of {obj.__module__}"


def test_every_chapter_evaluation_in_the_models_is_indexed():
    # a chapter's evaluate_* / measure_* function added to a model file must appear in the index
    names = [f"ganlib.models.{info.name}" for info in pkgutil.iter_modules(ganlib.models.__path__)]
    for module in map(importlib.import_module, [*names, "ganlib.conditional_protocol"]):
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                if name.startswith(("evaluate_", "measure_")):
                    assert name in measures.__all__, f"{module.__name__}.{name} is not in ganlib.measures"

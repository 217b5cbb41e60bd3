from __future__ import annotations

import pytest

from ecgssl.registry import Registry, UnknownNameError


def make() -> Registry:
    reg: Registry = Registry("widget")

    @reg.register("round_widget", "circle")
    class Round:
        def __init__(self, size: int = 1) -> None:
            self.size = size

    @reg.register("square")
    def square(size: int = 2) -> dict:
        return {"square": size}

    return reg


def test_build_from_name_alias_and_dict():
    reg = make()
    assert reg.build("round_widget").size == 1
    assert reg.build("Circle", size=3).size == 3
    assert reg.build({"name": "round-widget", "size": 5}).size == 5
    # kwargs fill in what the dict does not set; the dict wins otherwise
    assert reg.build({"name": "round_widget"}, size=7).size == 7
    assert reg.build({"name": "round_widget", "size": 4}, size=7).size == 4
    assert reg.build("square") == {"square": 2}


def test_list_contains_and_aliases():
    reg = make()
    assert reg.list() == ["round_widget", "square"]
    assert "circle" in reg and "square" in reg and "triangle" not in reg and 3 not in reg
    assert reg.aliases("round_widget") == ["circle"]
    assert len(reg) == 2 and list(reg) == reg.list()


def test_unknown_name_lists_close_matches():
    reg = make()
    with pytest.raises(UnknownNameError) as err:
        reg.build("sqare")
    msg = str(err.value)
    assert "unknown widget 'sqare'" in msg and "Did you mean 'square'" in msg
    assert "round_widget, square" in msg
    with pytest.raises(KeyError):
        reg.get("nothing_like_it")
    with pytest.raises(ValueError):
        reg.get("nothing_like_it")


def test_bad_specs_and_duplicates():
    reg = make()
    with pytest.raises(ValueError, match="'name' key"):
        reg.build({"size": 3})
    with pytest.raises(TypeError):
        reg.build(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("CIRCLE")(object)


def test_global_registries_are_populated():
    import ecgssl

    assert {"bell", "byol", "simclr"} <= set(ecgssl.list_methods())
    assert {"multibranch", "resnet1d"} <= set(ecgssl.list_encoders())
    assert "synthetic" in ecgssl.list_datasets()
    assert len([a for a in ecgssl.list_augmentations()
                if a not in ("compose", "random_apply", "one_of")]) >= 14  # fmt: skip

"""What initializers, regularizers, constraints, optimizers, schedules, losses and metrics
share: objects saved as `{"class_name": ..., "config": obj.get_config()}` and rebuilt with
`cls.from_config(config)`, the class looked up by name."""

from __future__ import annotations

from frontend.compat import lookup


class Configurable:
    """Base of objects without settings of their own: the config is {} and round-trips."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def serialize_object(obj) -> dict:
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def serialize_instance(obj, base: type, kind: str) -> dict:
    """`serialize_object(obj)`, or a ValueError when `obj` is not a `base` (a plain function
    has no config)."""
    if not isinstance(obj, base):
        article = "an" if base.__name__[0] in "AEIOU" else "a"
        raise ValueError(
            f"Cannot serialize the {kind} {obj!r}: use {article} {base.__name__} subclass"
        )
    return serialize_object(obj)


def object_from_dict(identifier: dict, table: dict, kind: str):
    """The object a `{"class_name", "config"}` dict describes, its class found in `table`."""
    cls = lookup(identifier["class_name"], table, kind)
    return cls.from_config(identifier.get("config", {}))


def by_name(*classes) -> dict:
    """{class name: class}, the table `object_from_dict` reads."""
    return {cls.__name__: cls for cls in classes}

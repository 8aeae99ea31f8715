"""The matter catalog (事项目录): which matters the station accepts. Data per street, not code."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_CATALOG = Path(__file__).parent / "data" / "catalog.yaml"


@dataclasses.dataclass(frozen=True)
class Matter:
    code: str
    name: str
    category: str
    handling: str  # "station" (settled here) or "routed" (收受分离)
    time_limit_days: int


class CatalogError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Catalog:
    categories: dict[str, str]
    matters: dict[str, Matter]

    def get(self, code: str) -> Matter | None:
        return self.matters.get(code)


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    categories = raw.get("categories") or {}
    matters = {}
    for index, entry in enumerate(raw.get("matters") or []):
        try:
            matter = Matter(**entry)
        except TypeError as exc:
            raise CatalogError(f"{path}: matters[{index}]: {exc}") from None
        if matter.category not in categories:
            raise CatalogError(f"{path}: matters[{index}] ({matter.code}): unknown category {matter.category!r}")
        if matter.code in matters:
            raise CatalogError(f"{path}: matters[{index}]: duplicate code {matter.code!r}")
        matters[matter.code] = matter
    return Catalog(categories, matters)


@lru_cache(maxsize=None)
def default_catalog() -> Catalog:
    return load_catalog()

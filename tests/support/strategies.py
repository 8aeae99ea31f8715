"""Hypothesis strategies for any JSON a client could send: text awkward for a database or a parser, and every
JSON shape built from it, for the property tests of the services' HTTP APIs."""
from hypothesis import strategies as st

AWKWARD = ["", " ", "\x00", "\ud800", "13812345678", "0001-01-01T00:00:00+14:00", "x" * 3000]


def awkward_text(*samples: str):
    """Short text of any characters, and the values that once broke an endpoint, with ``samples`` of its own."""
    return st.one_of(st.text(max_size=20), st.text(alphabet=st.characters(codec=None, exclude_categories=()),
                                                   max_size=8),
                     st.sampled_from([*AWKWARD, *samples]))


def _containers(inner):
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3))


def json_values(text=None, max_leaves: int = 8):
    """Any JSON value: null, booleans, numbers, ``text``, and lists and objects of them."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        text if text is not None else awkward_text())
    return st.recursive(scalars, _containers, max_leaves=max_leaves)

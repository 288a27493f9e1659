"""Turn a decoded value into JSON, text or a Python-like repr, within the limits.

The JSON form follows Prefect's JSON serializer, so a value that was pickled and
the same value written by ``result_serializer="json"`` render alike: native JSON
as is, tuples as lists, anything else ``{"__class__": "module.Name", "data": ...}``
and exceptions ``{"__exc_type__": ..., "message": ..., "args": [...]}``.

Every walk is iterative (a 200 000-deep value never raises RecursionError) and
counted: each visited value (a shared reference counts each time it is reached)
and the size of the output. ``strict=True`` raises :class:`TooLarge` past a cap;
``strict=False`` returns a preview cut with :data:`TRUNCATED` markers.

    >>> to_jsonable((1, {2}), limits=DEFAULT_LIMITS, strict=True)
    ([1, {'__class__': 'builtins.set', 'data': [2]}], False)
"""

from __future__ import annotations

from resultgate._render.budget import TRUNCATED
from resultgate._render.jsonable import qualname_of, to_jsonable
from resultgate._render.pyrepr import to_repr
from resultgate._render.text import to_text

__all__ = ["TRUNCATED", "qualname_of", "to_jsonable", "to_repr", "to_text"]

"""Read a pickle without importing or running anything it names.

    >>> safe_loads(pickle.dumps({"a": [1, 2.5, "x"]}))
    {'a': [1, 2.5, 'x']}
    >>> safe_loads(cloudpickle.dumps(Point(1, 2)))     # a class of the user
    <placeholder __main__.Point state={'x': 1, 'y': 2}>

How: a subclass of the C ``pickle.Unpickler`` whose ``find_class`` never imports.
Plain data (str, bytes, int, float, list, dict, tuple, set...) is built by the C
code at ``pickle.loads`` speed. Every global the pickle names resolves to one of:

* a *builder* of ours for an allowlisted plain-data type (``datetime.datetime``,
  ``uuid.UUID``, ``decimal.Decimal``, ``pathlib.PurePosixPath``...): it checks its
  arguments, then builds the real value; odd arguments give a placeholder;
* a :class:`PlaceholderType`: a dynamically made ``type`` whose instances are
  :class:`Placeholder` objects recording what the pickle asked for (arguments,
  state, items). Calling a placeholder only makes another placeholder.

cloudpickle's by-value classes, enums and functions become placeholder types
and placeholders too. The :class:`~resultgate._safety.SafetyCollector` records
what was named, built, left as a placeholder, asked to be called, or stored as
code. Any failure is a :class:`MalformedRecord` or :class:`TooLarge`.

Why each guard exists (for maintainers):

* ``persistent_load`` is never defined, so persistent ids are refused by C.
* EXT opcodes are looked up in ``copyreg``'s registry and then go through
  ``find_class``; if this process registered extensions, the C cache could
  hand back a real object, so we refuse to decode in that case.
* Builders charge a budget proportional to the input, so a pickle cannot
  amplify itself (a memoised 1 MB string passed to ``list()`` 10,000 times).
* Hashing a tuple nested a million deep (a dict key) recurses in C without a
  check and would crash the process; large inputs are therefore decoded in a
  thread whose stack is sized from the input (see :func:`.unpickler._run_with_big_stack`).

Not guarded here: a dict whose keys are big ints chosen to share one hash
builds in quadratic time inside C (20,000 keys, 380 kB: ~6 s), as it does
with ``pickle.loads``. Only running the decode in a process with a time limit
bounds that.
"""

from __future__ import annotations

from resultgate._decode.safepickle.allowlist import global_name
from resultgate._decode.safepickle.placeholders import Placeholder, PlaceholderType
from resultgate._decode.safepickle.placeholders import _rebuild as _rebuild
from resultgate._decode.safepickle.stdlib import zone as zone
from resultgate._decode.safepickle.unpickler import safe_loads
from resultgate._safety import SafetyCollector

__all__ = ["Placeholder", "PlaceholderType", "SafetyCollector", "global_name", "safe_loads"]

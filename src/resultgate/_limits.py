"""Size and shape caps that bound every decode and every rendering."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps applied while decoding and rendering one result.

    Past ``max_decompressed_bytes`` decompression stops with :class:`TooLarge`;
    past ``max_render_items`` or ``max_render_bytes`` a rendering is either an
    error (strict) or a preview marked truncated; nesting past ``max_depth`` is
    cut in renderings.
    """

    #: cap on the output of any decompression (a bomb stops here)
    max_decompressed_bytes: int = 2048 * MiB
    #: cap on the number of values one rendering visits (shared references count each time)
    max_render_items: int = 50_000_000
    #: cap on the size of one rendering's text
    max_render_bytes: int = 512 * MiB
    #: nesting deeper than this is cut from renderings
    max_depth: int = 400
    #: size of the preview the HTTP service and the page show inline
    preview_bytes: int = 256 * 1024


DEFAULT_LIMITS = Limits()

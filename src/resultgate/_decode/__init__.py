"""Decoding: from the bytes of a result file to a value, without running anything."""

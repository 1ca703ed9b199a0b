"""Text -> appearance vectors and procedural pattern fields for the offline "toy" backend.

The toy backend is a teaching model: a closed-form Gaussian denoiser whose prior for a
prompt is a *mean texture image*.  This module supplies the two ingredients of that image:

* :func:`embed_prompt` turns a prompt into a small, human-interpretable appearance vector
  (two colours, a mixture over procedural patterns, and a pattern period), so that
  interpolating two embeddings interpolates two looks in an understandable way;
* :func:`pattern_fields` renders every procedural pattern at once as a ``[0, 1]`` field,
  where ``1`` means "primary colour" and ``0`` "secondary colour".

For an embedding ``e`` the mean image is::

    secondary + (primary - secondary) * sum_j w_j * field_j

Everything is deterministic across processes and machines: hashing uses ``zlib.crc32``
(never Python's salted ``hash()``) and the value-noise lattice comes from a fixed-seed
CPU ``torch.Generator``.
"""

from __future__ import annotations

# The lexicon is split by concern; this module keeps every public name importable from one place.
from .toy_appearance import describe, embed_prompt
from .toy_patterns import pattern_fields
from .toy_shapes import SHAPE_WORDS, SHAPES, STOP_WORDS, shape_fields, shape_weights, unknown_words
from .toy_tokenize import normalise_word, tokenize
from .toy_words import (COLOUR_WORDS, EMBEDDING_DIM, LEXICON, LOG2_SCALE, MODIFIER_WORDS, OBJECT_WORDS, PATTERN_WEIGHTS,
                        PATTERNS, PRIMARY, SECONDARY, TEXTURE_WORDS)

__all__ = [
    "PATTERNS",
    "EMBEDDING_DIM",
    "PRIMARY",
    "SECONDARY",
    "PATTERN_WEIGHTS",
    "LOG2_SCALE",
    "COLOUR_WORDS",
    "TEXTURE_WORDS",
    "OBJECT_WORDS",
    "MODIFIER_WORDS",
    "LEXICON",
    "normalise_word",
    "tokenize",
    "embed_prompt",
    "describe",
    "pattern_fields",
    "SHAPES",
    "SHAPE_WORDS",
    "shape_weights",
    "shape_fields",
    "unknown_words",
]

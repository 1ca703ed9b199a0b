"""Words as the toy's lexicon sees them: lowercase, no punctuation, simple plurals undone."""

from __future__ import annotations

import re

from .toy_words import LEXICON


_IRREGULAR_PLURALS: dict[str, str] = {
    "leaves": "leaf", "wolves": "wolf", "knives": "knife", "mice": "mouse",
    "geese": "goose", "children": "child", "people": "person", "skies": "sky",
}
_WORD_RE = re.compile(r"[a-z]+")


def normalise_word(word: str) -> str:
    """Map a lowercase word to its lexicon form, undoing simple plurals.

    A plural rule is only applied when it lands on a lexicon word, so unknown words
    (and words like "grass" that merely end in "s") pass through unchanged.
    """
    if word in LEXICON:
        return word
    candidates = [_IRREGULAR_PLURALS.get(word, "")]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("ves"):
        candidates += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    return next((c for c in candidates if c in LEXICON), word)


def tokenize(text: str) -> list[str]:
    """Lowercase, strip punctuation and singularise: the words the lexicon sees."""
    return [normalise_word(w) for w in _WORD_RE.findall(text.lower())]



"""Counts in sentences a person reads: '1 photo', '3 photos', '1 photo is dark', '12 photos and 1 video'.

Sentences about photos are written for the plural ("are dark", "share enough features"); `agree`
turns their first verb singular when the count is 1. Pure Python (the Lambdas read it).
"""

from __future__ import annotations

# Plural verb -> its singular, for the first word of a phrase written for a plural subject.
SINGULAR_VERBS = {
    "are": "is",
    "were": "was",
    "have": "has",
    "do": "does",
    "show": "shows",
    "share": "shares",
    "disagree": "disagrees",
}


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 photo', '0 photos', '3 photos'; `plural_noun` where the plural is not noun + 's'
    ('identical copy', 'identical copies')."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def agree(count: int, phrase: str) -> str:
    """The phrase (written for a plural subject) with its first verb singular when count is 1:
    'are dark' -> 'is dark', 'share enough features' -> 'shares enough features'."""
    if count != 1:
        return phrase
    verb, space, rest = phrase.partition(" ")
    return SINGULAR_VERBS.get(verb, verb) + space + rest


def counted(photos: int, videos: int) -> str:
    """A job's inputs in words: '12 photos', '1 video', '3 photos and 2 videos'."""
    parts = [plural(photos, "photo")] if photos or not videos else []
    parts += [plural(videos, "video")] if videos else []
    return " and ".join(parts)

"""Tags on time entries: shared by everyone, created inline by typing a new name."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Tag
from .errors import NotFound, ValidationError

MAX_TAG_LENGTH = 50
MAX_TAGS_PER_ENTRY = 20


def clean_tag_names(value) -> list[str]:
    """Tag names from a comma-separated string or a list: trimmed, without duplicates
    (case-insensitively; the first spelling wins), at most 20 of 50 characters each."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    seen: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ValidationError("Tags must be text.", "tags")
        name = " ".join(part.split())
        if not name:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationError(f"A tag is at most {MAX_TAG_LENGTH} characters.", "tags")
        if any(ord(ch) < 32 for ch in name):
            raise ValidationError("Tags must not contain control characters.", "tags")
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    if len(names) > MAX_TAGS_PER_ENTRY:
        raise ValidationError(f"An entry has at most {MAX_TAGS_PER_ENTRY} tags.", "tags")
    return names


def _find(name: str) -> Tag | None:
    return db.session.scalar(select(Tag).where(func.lower(Tag.name) == name.lower()))


def resolve_tags(value) -> list[Tag]:
    """The tags named in ``value``, creating the new ones (not committed by itself when
    nothing is new). A name that differs only in case reuses the existing tag.

    Creation runs in a savepoint: if another request created the same tag a moment
    earlier, the unique constraint refuses ours and the other's row is used.
    """
    tags = []
    for name in clean_tag_names(value):
        tag = _find(name)
        if tag is None:
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name)
                    db.session.add(tag)
            except IntegrityError:
                tag = _find(name)
        tags.append(tag)
    return tags


def list_tags() -> list[Tag]:
    return list(db.session.scalars(select(Tag).order_by(func.lower(Tag.name))))


def get_tag(tag_id) -> Tag:
    try:
        ident = int(tag_id)
    except (TypeError, ValueError):
        raise NotFound("Tag not found.", "tag_id") from None
    tag = db.session.get(Tag, ident) if 0 < ident < 2**31 else None
    if tag is None:
        raise NotFound("Tag not found.", "tag_id")
    return tag

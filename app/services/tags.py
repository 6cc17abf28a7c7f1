"""Tags on time entries: shared by everyone, created inline by typing a new name."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Tag
from .errors import NotFound, ValidationError
from .validation import clean_text, name_key

MAX_TAG_LENGTH = 50
MAX_TAGS_PER_ENTRY = 20
# clean_text's own wording, reused for a name whose key does not fit its column.
TAG_TOO_LONG = f"A tag must be at most {MAX_TAG_LENGTH} characters."


def clean_tag_names(value) -> list[str]:
    """Tag names from a comma-separated string or a list, through the one text sanitiser
    (:func:`clean_text`) and bounded at 50 characters each, inner runs of spaces made
    one; at most 20, without two of one :func:`name_key` (the first spelling wins)."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    seen: set[str] = set()
    for part in parts:
        name = " ".join(clean_text(part, "tags", max_length=MAX_TAG_LENGTH, label="A tag").split())
        if not name:
            continue
        key = name_key(name)
        if len(key) > Tag.name_key.type.length:  # "ﷺ" × 50: NFKC spells each as 18 letters
            raise ValidationError(TAG_TOO_LONG, "tags")
        if key not in seen:
            seen.add(key)
            names.append(name)
    if len(names) > MAX_TAGS_PER_ENTRY:
        raise ValidationError(f"An entry has at most {MAX_TAGS_PER_ENTRY} tags.", "tags")
    return names


def _find(key: str) -> Tag | None:
    return db.session.scalar(select(Tag).where(Tag.name_key == key))


def resolve_tags(value) -> list[Tag]:
    """The tags named in ``value``, creating the new ones (not committed by itself when
    nothing is new). A name with the key of an existing tag (another case, width,
    invisible characters, look-alike letters) reuses that tag.

    The unique index on ``tags.name_key`` decides, not the lookup: a new tag is inserted
    with ``ON CONFLICT DO NOTHING``, so when another request created it meanwhile ours
    is skipped and theirs is read back. No savepoint: on SQLite the driver would
    commit the new tag at its RELEASE, before the entry that needs it was written.
    """
    tags = []
    for name in clean_tag_names(value):
        key = name_key(name)
        tag = _find(key)
        if tag is None:
            db.session.execute(_insert_if_absent(name, key))
            tag = _find(key)
        tags.append(tag)
    return tags


def _insert_if_absent(name: str, key: str):
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(Tag).values(name=name, name_key=key).on_conflict_do_nothing(
        index_elements=[Tag.name_key])


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

"""docs/events.md is generated from the catalogue and must not go stale."""

from app.telemetry.docs import EVENTS_MD, render


def test_events_doc_matches_the_catalogue():
    assert EVENTS_MD.read_text() == render(), (
        "docs/events.md is stale: run `python -m app.telemetry.docs` and commit the result")

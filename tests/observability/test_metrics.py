"""/metrics in one process: request counts by URL rule, business gauges, protection, cardinality."""

from __future__ import annotations

import uuid
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.observability.metrics import LATENCY_BUCKETS_SECONDS


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    """``/metrics`` parsed by prometheus-client's own parser: {(sample name, labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def requests_total(samples, endpoint, status="200", method="GET") -> float:
    key = ("tt_requests_total",
           (("endpoint", endpoint), ("http_status", status), ("method", method)))
    return samples.get(key, 0.0)


def test_requests_are_counted_by_url_rule_and_unmatched_paths_share_one_value(client):
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    client.get("/another-missing-page")
    samples = scrape(client)
    assert requests_total(samples, "/healthz") == 3
    assert requests_total(samples, "<unmatched>", "404") == 2
    assert samples[("tt_request_latency_seconds_count", (("endpoint", "/healthz"),))] == 3


def test_metrics_scrapes_are_not_counted_in_their_own_metrics(client):
    for _ in range(3):
        scrape(client)
    samples = scrape(client)
    assert not [key for key in samples if ("endpoint", "/metrics") in key[1]]


def test_parametrised_routes_are_labelled_with_their_rule_not_the_path(user_client):
    user_client.get("/entries/123/edit")
    user_client.get("/entries/456/edit")
    samples = scrape(user_client)
    assert requests_total(samples, "/entries/<int:entry_id>/edit", "404") == 2


def test_invented_http_methods_fold_into_one_label(client):
    client.open("/healthz", method="BREW")
    samples = scrape(client)
    assert any(key[0] == "tt_requests_total" and ("method", "OTHER") in key[1] for key in samples)


def test_business_metrics_count_timers_entries_users_and_version(user_client, make_project,
                                                                 make_user, ready_app):
    from app.models import User
    from app.services import entries, timer

    ids = make_project()
    make_user("bob")
    make_user("dana", role="admin")
    with ready_app.app_context():
        bob = db.session.scalar(db.select(User).filter_by(username="bob"))
        timer.start_timer(bob, project_id=ids["project_id"])
        entries.create_entry(bob, project_id=ids["project_id"], started_at=datetime(2026, 11, 2, 9),
                             ended_at=datetime(2026, 11, 2, 10))
    response = user_client.post_form("/timer/start", {"timer-project_id": str(ids["project_id"])})
    assert response.status_code == 302

    samples = scrape(user_client)
    assert samples[("tt_active_timers", ())] == 2
    assert samples[("tt_time_entries_created_total", (("source", "timer"),))] == 2
    assert samples[("tt_time_entries_created_total", (("source", "manual"),))] == 1
    # admin (setup) + dana; alice (user_client) + bob
    assert samples[("tt_users", (("role", "admin"),))] == 2
    assert samples[("tt_users", (("role", "user"),))] == 2
    assert samples[("tt_app_info", (("version", ready_app.config["APP_VERSION"]),))] == 1

    user_client.post_form("/timer/stop")
    assert scrape(user_client)[("tt_active_timers", ())] == 1


def test_a_token_protects_metrics_when_set(app_factory):
    app = app_factory(METRICS_TOKEN="s3cret-scrape-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    basic = client.get("/metrics", headers={"Authorization": "Basic czNjcmV0LXNjcmFwZS10b2tlbg=="})
    assert basic.status_code == 401
    samples = scrape(client, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert ("tt_app_info", (("version", app.config["APP_VERSION"]),)) in samples


def test_metrics_can_be_turned_off(app_factory):
    from app.services.setup import complete_setup

    app = app_factory(METRICS_ENABLED=False)
    with app.app_context():
        complete_setup(admin_username="admin", admin_password="correct-horse-battery",
                       allow_analytics=False)
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_answer_before_setup_is_complete(app):
    # Prometheus scrapes a fresh install too; it must not be redirected to the wizard.
    samples = scrape(app.test_client())
    assert samples[("tt_users", (("role", "admin"),))] == 0


def test_a_hundred_random_ids_in_paths_add_a_bounded_number_of_series(user_client):
    user_client.get("/healthz")
    before = scrape(user_client)
    ids = [uuid.uuid4().hex for _ in range(100)]
    for n, random_id in enumerate(ids):
        if n % 3 == 0:
            user_client.get(f"/{random_id}")                          # unmatched → 404
        elif n % 3 == 1:
            user_client.get(f"/entries/{int(random_id[:8], 16)}/edit")  # valid rule, no such entry
        else:
            user_client.post(f"/timer/restart/{int(random_id[:6], 16)}")  # valid rule, bad csrf
    after = scrape(user_client)
    new_series = set(after) - set(before)
    # Three URL rules were hit (one status each): per rule one counter series and
    # len(buckets) + 1 (+Inf) + _count + _sum histogram series. Not 100 of anything.
    per_rule = 1 + len(LATENCY_BUCKETS_SECONDS) + 3
    assert len(new_series) <= 3 * per_rule, sorted(new_series)
    text = user_client.get("/metrics").get_data(as_text=True)
    assert not any(random_id in text or str(int(random_id[:8], 16)) in text for random_id in ids)

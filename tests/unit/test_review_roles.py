"""Roles from roles.yaml beside the database: an honour system, enforced by the library."""

from __future__ import annotations

import pytest
import review_support as rs
from review_support import opts, write_roles

from goldenloop import review
from goldenloop.access import roles
from goldenloop.access.roles import Action, PermissionDenied, RolesError
from goldenloop.sampling import Uniform, create_queue, make_frame

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


def test_without_a_roles_file_nobody_leads_until_named(store):
    # never "everyone leads": tests/unit/test_roles_bootstrap.py names the first lead
    assert not roles.can(store, "anyone", Action.CREATE_QUEUE)
    assert roles.load(store.path.parent).role_of("anyone") is roles.Role.REVIEWER


def test_roles_file_separates_leads_and_reviewers(demo_store):
    write_roles(demo_store, "leads: [Ana]\nreviewers: [ben, 'chloe  d']\n")
    r = roles.load(demo_store.path.parent)
    assert r.role_of(" ana ") is roles.Role.LEAD
    assert r.role_of("Chloe D") is roles.Role.REVIEWER
    assert r.role_of("mallory") is None
    with pytest.raises(PermissionDenied, match="ben may not create queue"):
        create_queue(demo_store, opts(by="ben"), make_frame(), Uniform(5), seed=1)
    q = create_queue(demo_store, opts(by="ana"), make_frame(), Uniform(5), seed=1)
    assert review.next_item(demo_store, q.queue_id, "ben") is not None
    with pytest.raises(PermissionDenied, match="mallory may not grade"):
        review.next_item(demo_store, q.queue_id, "mallory")


def test_reviewers_key_absent_lets_any_name_grade(store):
    write_roles(store, "leads: [ana]\n")
    assert roles.can(store, "someone", Action.GRADE)
    assert not roles.can(store, "someone", Action.SEE_GOLD_ACCURACY)


@pytest.mark.parametrize(("text", "message"), [
    ("leads: ana: x\n", "roles.yaml: cannot read"),
    ("lead: [ana]\n", "roles.yaml: lead: Extra inputs are not permitted"),
    ("leads: ['']\n", "a reviewer name is required"),
])
def test_bad_roles_file_is_explained(store, text, message):
    write_roles(store, text)
    with pytest.raises(RolesError, match=message):
        roles.load(store.path.parent)


@pytest.mark.parametrize("name", ["", "   ", "a" * 65, "bad\x00name"])
def test_unusable_names_are_refused(name):
    with pytest.raises(RolesError):
        roles.normalize_name(name)

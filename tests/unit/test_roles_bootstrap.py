"""No roles file never means "everyone leads": one first lead is named (at start, by the first
sign-in, or by the first lead action), written into roles.yaml and audited."""

from __future__ import annotations

import threading

import pytest
import review_support as rs
import yaml
from review_support import opts

from goldenloop.access import roles
from goldenloop.access.roles import Action, PermissionDenied
from goldenloop.sampling import Uniform, create_queue, make_frame
from goldenloop.store import audit

demo_template, demo_store = rs.demo_template, rs.demo_store  # shared fixtures


def test_without_a_roles_file_nobody_leads_yet(store):
    r = roles.load(store.path.parent)
    assert not r.configured
    assert r.role_of("anyone") is roles.Role.REVIEWER
    assert not roles.can(store, "anyone", Action.CREATE_QUEUE)
    assert roles.can(store, "anyone", Action.GRADE)


def test_bootstrap_writes_one_lead_and_only_once(tmp_path):
    assert roles.bootstrap_lead(tmp_path, " Ana ", "goldenloop serve --lead")
    assert not roles.bootstrap_lead(tmp_path, "ben", "the first to sign in")
    data = yaml.safe_load(roles.roles_path(tmp_path).read_text())
    assert data["leads"] == ["ana"] and data["bootstrap"].startswith("goldenloop serve --lead")
    r = roles.load(tmp_path)
    assert r.role_of("ana") is roles.Role.LEAD
    assert r.role_of("ben") is roles.Role.REVIEWER  # no reviewers key: any other name grades
    assert list(tmp_path.glob(".roles.yaml.*")) == []  # no temporary file left behind


def test_an_existing_roles_file_is_never_replaced(tmp_path):
    roles.roles_path(tmp_path).write_text("leads: [chloe]\n")
    assert not roles.bootstrap_lead(tmp_path, "ana", "the first to sign in")
    assert roles.load(tmp_path).leads == {"chloe"}


def test_first_users_at_the_same_moment_make_one_lead(tmp_path):
    names = [f"user{i}" for i in range(12)]
    wrote: list[str] = []
    start = threading.Barrier(len(names))

    def claim(name: str) -> None:
        start.wait()
        if roles.bootstrap_lead(tmp_path, name, "the first to sign in"):
            wrote.append(name)

    threads = [threading.Thread(target=claim, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wrote) == 1
    assert roles.load(tmp_path).leads == {wrote[0]}


def test_first_lead_action_names_the_lead_and_is_audited(demo_store):
    q = create_queue(demo_store, opts(by="Dana"), make_frame(), Uniform(5), seed=1)
    assert q.queue_id
    assert roles.load(demo_store.path.parent).leads == {"dana"}
    log = audit.entries(demo_store, action="roles.bootstrap")
    assert list(log["actor"]) == ["dana"]
    # the second name is a reviewer now, refused a lead's work by the library
    with pytest.raises(PermissionDenied, match="eve may not create queue"):
        create_queue(demo_store, opts(by="eve"), make_frame(), Uniform(5), seed=2)
    denied = audit.entries(demo_store, action="access.denied")
    assert list(zip(denied["actor"], denied["target"], strict=True)) == [("eve", "create_queue")]


def test_grading_names_no_lead(store):
    roles.require(store, "ben", Action.GRADE)
    assert not roles.roles_path(store.path.parent).exists()


def test_a_lead_changes_roles_and_the_change_is_audited(store):
    roles.bootstrap_lead(store.path.parent, "ana", "goldenloop serve --lead")
    shown = roles.load(store.path.parent)
    after = roles.change(store, "ana", ["ana", " Chloe "], ["ben", "dan"], expected=shown)
    assert after.leads == {"ana", "chloe"} and after.reviewers == {"ben", "dan"}
    assert after.bootstrap == shown.bootstrap  # how the first lead was named is kept
    assert after.role_of("eve") is None  # a reviewers list: other names may not grade
    log = audit.entries(store, action="roles.change")
    assert list(log["actor"]) == ["ana"]
    details = log["details"].iloc[0]
    assert '"leads_added": ["chloe"]' in details and '"reviewers_added": ["ben", "dan"]' in details
    # what the page showed is stale now: a second save from it is refused, file unchanged
    with pytest.raises(roles.RolesError, match="changed since you opened it"):
        roles.change(store, "ana", ["ana"], None, expected=shown)
    assert roles.load(store.path.parent).leads == {"ana", "chloe"}


@pytest.mark.parametrize("by, leads, said", [
    ("ana", [], "at least one lead must remain"),
    ("ana", ["chloe"], "cannot remove their own lead role"),
])
def test_role_changes_that_would_lock_out_are_refused(store, by, leads, said):
    roles.bootstrap_lead(store.path.parent, "ana", "test")
    with pytest.raises(roles.RolesError, match=said):
        roles.change(store, by, leads, None)
    assert roles.load(store.path.parent).leads == {"ana"}


def test_a_reviewer_cannot_change_roles(store):
    roles.bootstrap_lead(store.path.parent, "ana", "test")
    with pytest.raises(PermissionDenied, match="ben may not manage roles"):
        roles.change(store, "ben", ["ben"], None)
    assert roles.load(store.path.parent).leads == {"ana"}
    assert list(audit.entries(store, action="access.denied")["actor"]) == ["ben"]

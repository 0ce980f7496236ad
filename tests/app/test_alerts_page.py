"""The Alerts page in-process (Streamlit AppTest) on a real database: a lead creates a rule and
sees its state and history; a name without the lead role cannot create one."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts_support import load, minute_traffic, receiver
from app_support import app_page

from goldenloop import alerts
from goldenloop.schema import open_store

T0 = datetime(2025, 3, 3, 12, 0)


def texts(at) -> str:
    return "\n".join(str(t.value) for t in at.text)


def test_a_lead_creates_a_rule_and_sees_its_state_and_history(app_db):
    with open_store(app_db) as store:
        load(store, minute_traffic(T0, 30, 10, 0.5))
    with receiver() as rec:
        at = app_page("alerts", params={"reviewer": "ana"})  # no roles.yaml: everyone leads
        assert "No alert rules yet" in at.info[-1].value
        at.text_input(key="gl_alert_name").input("support <b>errors</b>")
        at.selectbox(key="gl_alert_metric").set_value("error_rate")
        at.text_input(key="gl_alert_window").input("10m")
        at.text_input(key="gl_alert_warn").input("0.1")
        at.text_input(key="gl_alert_critical").input("0.3")
        at.number_input(key="gl_alert_min_samples").set_value(20)
        at.selectbox(key="gl_alert_channel").set_value("webhook")
        at.text_input(key="gl_alert_url").input(rec.url())
        at.button(key="gl_alert_save").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.success, [e.value for e in at.error]

        store = open_store(app_db)  # the app's own connection is closed by the fixture
        try:
            (stored,) = alerts.stored_rules(store)
            assert stored.rule.name == "support <b>errors</b>" and stored.origin == "app"
            assert stored.updated_by == "ana" and stored.rule.min_samples == 20
            alerts.check(store, alerts.Settings(), at=T0 + timedelta(minutes=20))
        finally:
            store.close()
        assert [b["state"] for b in rec.bodies()] == ["ALERT"]

    at = app_page("alerts", params={"reviewer": "ana", "rule": "support <b>errors</b>"})
    rules = at.dataframe[0].value
    assert list(rules["name"]) == ["support <b>errors</b>"] and list(rules["state"]) == ["ALERT"]
    history = at.dataframe[1].value
    assert list(history["to_state"]) == ["ALERT"] and list(history["from_state"]) == [None]
    deliveries = at.dataframe[2].value
    assert list(deliveries["status"]) == ["sent"]
    assert "name: support <b>errors</b>" in at.code[0].value  # the YAML to keep in git


def test_a_reviewer_cannot_create_rules(app_db):
    (app_db.parent / "roles.yaml").write_text("leads: [ana]\nreviewers: [ben]\n")
    at = app_page("alerts", params={"reviewer": "ben"})
    assert not [b for b in at.button if b.key == "gl_alert_save"]
    assert any("Only leads create and edit alert rules" in i.value for i in at.info)


def test_a_bad_rule_is_a_message_and_nothing_is_saved(app_db):
    at = app_page("alerts", params={"reviewer": "ana"})
    at.text_input(key="gl_alert_name").input("x")
    at.text_input(key="gl_alert_window").input("soon")
    at.button(key="gl_alert_save").click().run()
    assert not at.exception
    assert "window: 'soon' is not a duration" in texts(at)
    with open_store(app_db) as store:
        assert alerts.stored_rules(store) == []


def test_a_lead_edits_and_deletes_a_page_rule_but_not_a_file_rule(app_db):
    from goldenloop.alerts import records

    with open_store(app_db) as store:
        for name, origin in (("mine", "app"), ("from git", "file")):
            rule = alerts.parse_rule({"name": name, "metric": "error_rate",
                                      "condition": "above", "warn": 0.1, "critical": 0.2})
            store.write(records.save_rule, rule, origin, "ana")
    at = app_page("alerts", params={"reviewer": "ana", "rule": "from git"})
    assert not [b for b in at.button if b.key == "gl_alert_edit_save"]
    assert "comes from alerts.yaml" in texts(at)

    at = app_page("alerts", params={"reviewer": "ana", "rule": "mine"})
    at.text_input(key="gl_alert_edit_critical").input("0.4")
    at.checkbox(key="gl_alert_edit_enabled").uncheck()
    at.button(key="gl_alert_edit_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(app_db) as store:
        edited = alerts.find_rule(store, "mine").rule
        assert (edited.critical, edited.enabled) == (0.4, False)
    at.button(key="gl_alert_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(app_db) as store:
        assert [s.rule.name for s in alerts.stored_rules(store)] == ["from git"]
        assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert_rule_deleted'"
                            " AND actor = 'ana'") == 1


def test_a_broken_rules_file_is_said_on_the_page(app_db):
    (app_db.parent / "alerts.yaml").write_text("rules:\n  - name: x\n    metric: nope\n")
    at = app_page("alerts", params={"reviewer": "ana"})
    assert at.error[0].value.startswith("The rules file has an error")
    assert "alerts.yaml: rules[0] ('x'): metric: Input should be" in texts(at)

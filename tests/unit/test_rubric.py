"""Rubrics as data: the packaged YAML, versions by content hash, loading into the store,
clear errors for bad files, and a lead's edit written beside the database."""

from __future__ import annotations

import json

import pytest
import yaml
from review_support import write_roles

from goldenloop import rubric
from goldenloop.access.roles import PermissionDenied
from goldenloop.rubric import RubricError


def test_default_rubric_has_the_issue_criteria(store):
    r = rubric.current(store, "default")
    assert [c.name for c in r.criteria] == ["correctness", "tone", "conciseness", "safety",
                                            "note"]
    correctness = r.criterion("correctness")
    assert correctness.type == "ordinal" and correctness.scale == (1, 5)
    assert sorted(correctness.levels) == [1, 2, 3, 4, 5]
    assert all(correctness.levels.values())  # every level anchored by a description
    tone = r.criterion("tone")
    assert tone.multi_select
    assert tone.label_names == ["on-brand", "too formal", "too casual", "rude", "other"]
    assert not r.criterion("note").required and r.criterion("note").type == "text"
    assert r.corrected_answer.enabled
    assert rubric.current(store, "comparison").criterion("preference").is_pairwise


def test_version_is_the_content_hash(store):
    r = rubric.current(store, "default")
    again = rubric.parse(yaml.safe_load(rubric.to_yaml(r)), "roundtrip")
    assert again == r and again.version == r.version
    assert r.model_copy(update={"edited_by": "someone"}).version == r.version
    changed = r.model_dump(mode="json")
    changed["criteria"][0]["instructions"] += " Check the numbers."
    assert rubric.parse(changed, "x").version != r.version
    reordered = r.model_dump(mode="json")
    labels = reordered["criteria"][1]["labels"]
    reordered["criteria"][1]["labels"] = labels[::-1]  # order of labels is meaning
    assert rubric.parse(reordered, "x").version != r.version


def test_sync_is_idempotent_and_fills_criteria(store):
    assert rubric.sync(store) == 2  # default and comparison
    assert rubric.sync(store) == 0
    version = rubric.current(store, "default").version
    rows = store.rows("SELECT name, value_type, min_value, max_value, labels, multi_select, "
                      "label_descriptions FROM criteria WHERE rubric_name = 'default' "
                      "AND rubric_version = ? ORDER BY name", [version])
    by_name = {r[0]: r for r in rows}
    assert set(by_name) == {"correctness", "tone", "conciseness", "safety", "note"}
    assert by_name["correctness"][1:4] == ("ordinal", 1.0, 5.0)
    assert by_name["tone"][4][-1] == "other" and by_name["tone"][5] is True
    assert json.loads(by_name["correctness"][6])["3"].startswith("Partly correct")
    assert rubric.get(store, "default", version) == rubric.current(store, "default")


BAD = [
    ({"criteria": [{"name": "t", "type": "nominal", "labels": {"only": ""}}]},
     "criteria[0] (t): a nominal criterion needs at least two labels"),
    ({"criteria": [{"name": "s", "type": "ordinal", "scale": [1, 5], "multi_select": True}]},
     "criteria[0] (s): multi_select is only for nominal criteria"),
    ({"criteria": [{"name": "s", "type": "ordinal", "scale": [1, 5], "levels": {9: "x"}}]},
     "levels [9] are outside the scale"),
    ({"criteria": [{"name": "a", "type": "text"}, {"name": "a", "type": "text"}]},
     "criteria names repeat: a"),
    ({"criteria": [{"name": "a", "type": "text", "scales": [1, 2]}]},
     "criteria[0] (a).scales: Extra inputs are not permitted"),
    ({"criteria": [{"name": "a", "type": "stars"}]}, "criteria[0] (a).type"),
    ({"criteria": []}, "at least one criterion"),
    ({"criteria": [{"name": "Tone Of Voice", "type": "text"}]},
     "criteria[0] (Tone Of Voice).name: use lower-case letters"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_bad_rubric_files_name_the_file_and_field(tmp_path, body, message):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"name": "broken", **body}))
    with pytest.raises(RubricError) as err:
        rubric.load_file(path)
    assert str(err.value).startswith("broken.yaml: ")
    assert message in str(err.value)


def test_unreadable_yaml_is_a_rubric_error(tmp_path):
    path = tmp_path / "syntax.yaml"
    path.write_text("name: x\ncriteria: [\n")
    with pytest.raises(RubricError, match=r"syntax\.yaml: cannot read"):
        rubric.load_file(path)


def test_a_leads_edit_is_a_new_yaml_version_beside_the_database(store):
    base = rubric.current(store, "default")
    data = base.model_dump(mode="json")
    data["criteria"][2]["instructions"] = "Could any sentence go?"
    edited = rubric.save_edit(store, rubric.parse(data, "edit"), "ana")
    assert edited.version != base.version and edited.based_on == base.version
    files = list((store.path.parent / "rubrics").glob("*.yaml"))
    assert [f.name for f in files] == [f"default.{edited.version}.yaml"]
    assert not list(rubric.package_dir().glob(f"*{edited.version}*"))  # never the package
    assert rubric.load_file(files[0]) == edited  # the file is the source of truth
    assert rubric.current(store, "default").version == edited.version
    assert rubric.get(store, "default", base.version) == base  # the old version stays
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'rubric.edit'") == 1
    # Saving the same content again writes nothing new.
    assert rubric.save_edit(store, rubric.parse(data, "edit"), "ana").version == edited.version
    assert len(list((store.path.parent / "rubrics").glob("*.yaml"))) == 1


def test_only_leads_edit_rubrics(store):
    write_roles(store, "leads: [ana]\nreviewers: [ben]\n")
    r = rubric.current(store, "default")
    data = r.model_dump(mode="json")
    data["title"] = "Changed"
    with pytest.raises(PermissionDenied, match="ben may not edit rubric"):
        rubric.save_edit(store, rubric.parse(data, "edit"), "ben")
    assert rubric.save_edit(store, rubric.parse(data, "edit"), " Ana ").edited_by == "ana"

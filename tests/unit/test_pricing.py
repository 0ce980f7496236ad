"""The dated price table an import joins: built from the shipped and the user's price files
without Arrow (an import registers plain rows), and a bad value in a user's file is named."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from goldenloop.errors import ImportFileError
from goldenloop.pricing import price_records


def test_each_price_holds_until_the_next_row_of_its_model(tmp_path, monkeypatch):
    user = tmp_path / "prices.csv"
    user.write_text("model,valid_from,input_per_mtok,output_per_mtok\n"
                    "m1,2024-01-01,1,2\nm1,2024-06-01,0.5,1\nm2,2024-03-01,3,\n")
    monkeypatch.setenv("GOLDENLOOP_PRICES", str(user))
    mine = [r for r in price_records() if r[0] in ("m1", "m2")]
    assert mine == [
        ("m1", datetime(2024, 1, 1), datetime(2024, 6, 1), 1.0, 2.0, None),
        ("m1", datetime(2024, 6, 1), None, 0.5, 1.0, None),
        ("m2", datetime(2024, 3, 1), None, 3.0, None, None),
    ]
    # the shipped table is there too, every model's rows in date order
    shipped = [r for r in price_records() if r[0] == "gpt-4o"]
    assert len(shipped) >= 2 and all(a[2] == b[1] for a, b in itertools.pairwise(shipped))


@pytest.mark.parametrize(("row", "named"), [
    ("m1,2024-13-01,1,2", "valid_from '2024-13-01' is not a date"),
    ("m1,2024-01-01,one,2", "input_per_mtok 'one' is not a number"),
])
def test_a_bad_value_names_the_file_and_model(tmp_path, monkeypatch, row, named):
    user = tmp_path / "prices.csv"
    user.write_text(f"model,valid_from,input_per_mtok,output_per_mtok\n{row}\n")
    monkeypatch.setenv("GOLDENLOOP_PRICES", str(user))
    with pytest.raises(ImportFileError) as err:
        price_records()
    assert str(err.value).startswith(f"{user}: m1: {named}")

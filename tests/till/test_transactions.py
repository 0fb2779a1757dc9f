"""Till CSV lines: the good ones taken, each bad one rejected with its line and reason."""

from __future__ import annotations

from cashwatch.till.transactions import parse_csv

GOOD = "till_id,at,amount,currency,kind,reference\n"


def test_good_lines_are_taken_and_bad_ones_named_by_line() -> None:
    text = GOOD + (
        "front-1,2026-12-06T10:00:00+09:00,12000,KRW,sale,R1\n"
        "front-1,1796600000,5.5,usd,REFUND,R2\n"
        "front-1,yesterday,1,KRW,sale,R3\n"
        "front-1,1796600000,1,KRW,gift,R4\n"
        "front-1,1796600000,ten,KRW,sale,R5\n"
        "front-1,1796600000,1,KRW,sale,\n"
        "front-1,1796600000,1,KRW,sale,R7,extra\n"
        "front-1,1796600000,1,WON!,sale,R8\n"
    )
    taken, rejected = parse_csv(text)
    assert [(t.reference, t.kind, t.currency) for t in taken] == [
        ("R1", "sale", "KRW"),
        ("R2", "refund", "USD"),
    ]
    assert taken[0].at == 1796518800.0  # 01:00 UTC
    reasons = {r.line: r.reason for r in rejected}
    assert set(reasons) == {4, 5, 6, 7, 8, 9}
    assert "at 'yesterday' is not a time" in reasons[4]
    assert "kind 'gift'; valid: sale, refund, no_sale, void, payout" in reasons[5]
    assert "amount 'ten' is not a number" in reasons[6]
    assert "missing reference" in reasons[7]
    assert "7 cells, the header names 6" in reasons[8]
    assert "currency 'WON!'" in reasons[9]


def test_a_file_without_the_columns_is_refused_as_a_whole() -> None:
    taken, rejected = parse_csv("till,when,amount\nx,1,2\n")
    assert taken == []
    assert rejected[0].line == 1 and "header lacks till_id, at" in rejected[0].reason


def test_till_import_takes_the_good_lines_and_names_the_bad(tmp_path, capsys) -> None:
    """`cashwatch till import FILE.csv`: the good lines into the journal, each bad one
    named on stderr with its line number, exit 1."""
    import json

    from cashwatch.cli import main

    config = tmp_path / "cashwatch.toml"
    config.write_text("")
    csv = tmp_path / "day.csv"
    csv.write_text(GOOD + "front-1,1796600000,5,USD,sale,R1\nfront-1,1796600000,5,USD,sale\n")
    assert main(["till", "import", str(csv), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert "day.csv: 1 transaction(s) imported, 1 line(s) rejected" in out
    assert "line 3: missing reference" in err
    journal = next((tmp_path / "journal" / "_till").glob("*.jsonl")).read_text()
    assert [json.loads(line)["reference"] for line in journal.splitlines()] == ["R1"]
    assert main(["till", "import", str(tmp_path / "none.csv"), "--config", str(config)]) == 2

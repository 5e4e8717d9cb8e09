import json

from typer.testing import CliRunner

from territory.dedupe.cli import app

CSV = """source_system,source_id,name,country,city,postal_code,website,parent_source_id
salesforce,1,Cedar Energy Inc.,CA,Toronto,M5H 2N2,cedar.example.com,
hubspot,7,CEDAR ENERGY INC,CA,Toronto,M5H 2N2,www.cedar.example.com,
dynamics,2,Cedar Energy Europe Ltd,GB,London,EC2V 7HH,,
csv,9,,CA,Toronto,,,
salesforce,3,Summit Logistics GmbH,DE,München,80331,,1
"""
TRUTH = """source_system,source_id,entity_id,parent_entity_id
salesforce,1,E1,
hubspot,7,E1,
dynamics,2,E2,E1
csv,9,E9,
salesforce,3,E3,E1
"""


def test_report_command_writes_clusters_pairs_counts_and_quality(tmp_path):
    data, truth, out = tmp_path / "clients.csv", tmp_path / "truth.csv", tmp_path / "r.json"
    data.write_text(CSV, encoding="utf-8")
    truth.write_text(TRUTH, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["report", str(data), "--truth", str(truth), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == report
    assert report["records"] == 4
    assert report["rejected"] == 1  # the row without a name
    assert report["counts"] == {"merged": 1, "new": 3}
    (cluster,) = report["clusters"]
    assert cluster["source_keys"] == ["hubspot:7", "salesforce:1"]
    merged = [p for p in report["pairs"] if p["outcome"] == "merged"]
    assert merged[0]["source_key"] == "hubspot:7"
    assert merged[0]["field_scores"]["domain"] > 0
    assert report["quality"]["f1"] == 1.0


def test_model_estimate_show_and_report_with_the_model(tmp_path):
    data, truth, model = tmp_path / "clients.csv", tmp_path / "truth.csv", tmp_path / "m.json"
    data.write_text(CSV, encoding="utf-8")
    truth.write_text(TRUTH, encoding="utf-8")
    runner = CliRunner()
    estimated = runner.invoke(app, ["model", "estimate", str(data), "-o", str(model)])
    assert estimated.exit_code == 0, estimated.output
    written = json.loads(model.read_text(encoding="utf-8"))
    assert written["format"] == 1
    assert written["estimation"]["records"] == 4
    shown = runner.invoke(app, ["model", "show", str(model)])
    assert shown.exit_code == 0, shown.output
    assert written["version"] in shown.stdout
    assert "name_exact" in shown.stdout
    as_json = runner.invoke(app, ["model", "show", str(model), "--json"])
    assert json.loads(as_json.stdout)["version"] == written["version"]
    report = runner.invoke(
        app, ["report", str(data), "--truth", str(truth), "--model", str(model), "--json"]
    )
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["records"] == 4


def test_report_thresholds_and_estimate_change_the_decisions(tmp_path):
    data = tmp_path / "clients.csv"
    data.write_text(CSV, encoding="utf-8")
    runner = CliRunner()
    strict = runner.invoke(
        app,
        ["report", str(data), "--merge-threshold", "1.0", "--review-threshold", "0.99", "--json"],
    )
    assert strict.exit_code == 0, strict.output
    assert "merged" not in json.loads(strict.stdout)["counts"]
    estimated = runner.invoke(app, ["report", str(data), "--estimate", "--json"])
    assert estimated.exit_code == 0, estimated.output
    both = runner.invoke(app, ["report", str(data), "--estimate", "--model", str(data)])
    assert both.exit_code != 0


def test_refused_records_count_as_singletons_against_the_truth(tmp_path):
    """Two true pairs; one record of each refused (no name). Leaving the refused records
    out would score a perfect run; counted as singletons, recall is 0."""
    data, truth = tmp_path / "c.csv", tmp_path / "t.csv"
    data.write_text(
        "source_system,source_id,name,country\n"
        "salesforce,1,Cedar Energy Inc.,CA\n"
        "hubspot,2,,CA\n"
        "salesforce,3,Summit Logistics GmbH,DE\n"
        "hubspot,4,,DE\n",
        encoding="utf-8",
    )
    truth.write_text(
        "source_system,source_id,entity_id\nsalesforce,1,A\nhubspot,2,A\n"
        "salesforce,3,B\nhubspot,4,B\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["report", str(data), "--truth", str(truth), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rejected"] == 2
    assert report["quality"]["true_pairs"] == 2
    assert report["quality"]["recall"] == 0.0
    assert report["quality"]["f1"] == 0.0
    (problem,) = report["problems"]
    assert problem["outcome"] == "refused"
    assert problem["field"] == "name"
    assert problem["count"] == 2
    assert [e["row"] for e in problem["examples"]] == [2, 4]


def test_truth_with_wrong_columns_says_which_it_expects(tmp_path):
    data, truth = tmp_path / "c.csv", tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    truth.write_text("system,id,cluster\nsalesforce,1,E1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(data), "--truth", str(truth)])
    assert result.exit_code == 2
    assert "source_system, source_id, entity_id" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_quarantined_fields_are_counted_by_field_with_rows(tmp_path):
    data = tmp_path / "c.csv"
    data.write_text(
        "source_system,source_id,name,lei,segment\n"
        "salesforce,1,Cedar Energy Inc.,5493001KJTIIGC8Y1R13,Hedge Fnd\n"
        "salesforce,2,Summit Logistics,,Pensoin\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["report", str(data)])
    assert result.exit_code == 0, result.output
    assert "quarantined invalid_lei lei: 1 records · first rows 1: '5493001KJTIIGC8Y1R13'" in (
        result.output
    )
    assert "segment: 2 records · first rows 1: 'Hedge Fnd'; 2: 'Pensoin'" in result.output


def test_usage_shows_path():
    result = CliRunner().invoke(app, ["report", "--help"])
    assert "PATH" in result.output
    assert "{path}" not in result.output

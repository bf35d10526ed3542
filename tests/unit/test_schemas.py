"""The schema files upstream teams read are exactly what the models enforce."""

from pathlib import Path

from consumer.schemas import contract_schemas, stale_schemas, write_schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_schema_files_match_the_models() -> None:
    stale = stale_schemas(SCHEMAS)

    assert stale == [], f"run `io-relay schemas --write` to refresh: {stale}"


def test_a_drifted_file_is_reported(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    (tmp_path / "status-record.schema.json").write_text("{}\n")

    assert stale_schemas(tmp_path) == ["status-record.schema.json"]


def test_every_contract_has_a_schema() -> None:
    names = set(contract_schemas())

    assert names == {
        "cloudevent.schema.json",
        "status-record.schema.json",
        "tracking-record.schema.json",
        "events/payment_notice.issued.schema.json",
        "events/document.ready.schema.json",
    }
    notice = contract_schemas()["events/payment_notice.issued.schema.json"]
    assert set(notice["required"]) == {
        "recipient_fiscal_code",
        "notice_number",
        "amount_cents",
        "description",
    }

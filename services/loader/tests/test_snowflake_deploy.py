"""`deploy/snowflake/`: the scripts run, twice, against fakesnow; the statements fakesnow
cannot parse (roles, grants, row access and masking policies) are checked by the
validator below; the table script is exactly what the model generates, the policy script
exactly what the role policy (`territory.shared.access`) generates; the secure views expose
no PII.

The validator (fakesnow and sqlglot both treat these statements as opaque commands):
- each statement must match one of the grammar forms in `FORMS` (the forms these
  scripts use, written from Snowflake's reference);
- every policy body (after `->`) must parse as a Snowflake expression with sqlglot;
- cross references must resolve: roles granted or tested with IS_ROLE_IN_SESSION are
  created in the scripts (or are Snowflake's SYSADMIN / SECURITYADMIN), policies attached
  to columns are created, and attached tables and columns exist in the warehouse model;
- the project's admin role is not Snowflake's SYSADMIN.
"""

import re
from pathlib import Path

import fakesnow
import pytest
import snowflake.connector
import sqlglot
from factories import assigned, conflict, golden, ruleset
from sqlalchemy import text

from territory.loader.snowflake_ddl import tables_sql
from territory.loader.snowflake_policies import policies_sql
from territory.loader.writer import WarehouseWriter
from territory.shared.access import POLICY, Role
from territory.shared.warehouse import schema as s
from territory.shared.warehouse.engine import SCHEMA_MAPS, create_warehouse_engine
from territory.shared.warehouse.migrate import migrate

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy" / "snowflake"

UNPARSED = [
    r"^USE ROLE\b",
    r"^CREATE ROLE\b",
    r"^GRANT\b",
    r"^CREATE (ROW ACCESS|MASKING) POLICY\b",
    r"^ALTER (ROW ACCESS|MASKING) POLICY\b",
    r"^ALTER TABLE \S+ (DROP ALL ROW ACCESS POLICIES|ADD ROW ACCESS POLICY|MODIFY COLUMN \S+\s+SET MASKING POLICY)",
]

IDENT = r"[A-Z_][A-Z0-9_]*"
QNAME = rf"{IDENT}\.{IDENT}\.{IDENT}"
PRIVS = r"(SELECT|INSERT|UPDATE|DELETE|USAGE|CREATE TABLE)(, (SELECT|INSERT|UPDATE|DELETE))*"
FORMS = {
    "use_role": rf"USE ROLE {IDENT}",
    "create_role": rf"CREATE ROLE IF NOT EXISTS (?P<role>{IDENT})( COMMENT = '[^']*')?",
    "grant_role": rf"GRANT ROLE (?P<granted>{IDENT}) TO ROLE (?P<grantee>{IDENT})",
    "grant_priv": (
        rf"GRANT {PRIVS} ON ((ALL|FUTURE) (TABLES|SCHEMAS|VIEWS) IN (DATABASE {IDENT}|SCHEMA {IDENT}\.{IDENT})"
        rf"|DATABASE {IDENT}|SCHEMA {IDENT}\.{IDENT}|VIEW {QNAME}) TO ROLE (?P<grantee>{IDENT})"
    ),
    "grant_ownership": rf"GRANT OWNERSHIP ON DATABASE {IDENT} TO ROLE (?P<grantee>{IDENT}) COPY CURRENT GRANTS",
    "create_policy": (
        rf"CREATE (?P<kind>ROW ACCESS|MASKING) POLICY IF NOT EXISTS (?P<policy>{QNAME})"
        rf" AS \({IDENT} VARCHAR\) RETURNS (BOOLEAN|VARCHAR) -> (?P<body>.+)"
    ),
    "alter_policy": rf"ALTER (ROW ACCESS|MASKING) POLICY (?P<policy>{QNAME}) SET BODY -> (?P<body>.+)",
    "drop_row_policies": rf"ALTER TABLE (?P<table>{QNAME}) DROP ALL ROW ACCESS POLICIES",
    "add_row_policy": rf"ALTER TABLE (?P<table>{QNAME}) ADD ROW ACCESS POLICY (?P<policy>{QNAME}) ON \((?P<column>{IDENT})\)",
    "set_mask": (
        rf"ALTER TABLE (?P<table>{QNAME}) MODIFY COLUMN (?P<column>{IDENT})"
        rf" SET MASKING POLICY (?P<policy>{QNAME}) FORCE"
    ),
}
SYSTEM_ROLES = {"SYSADMIN", "SECURITYADMIN"}


def statements() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DEPLOY.glob("*.sql")):
        body = "\n".join(
            line for line in path.read_text().splitlines() if not line.strip().startswith("--")
        )
        for stmt in body.split(";"):
            stmt = " ".join(stmt.split())
            if stmt:
                out.append((path.name, stmt))
    return out


def is_unparsed(stmt: str) -> bool:
    return any(re.match(p, stmt, re.IGNORECASE) for p in UNPARSED)


def model_columns() -> dict[str, set[str]]:
    tables = {}
    for table in s.metadata.sorted_tables:
        name = f"{SCHEMA_MAPS['snowflake'][table.schema]}.{table.name}".upper()
        tables[name] = {c.name.upper() for c in table.c}
    tables["CORE.SEGMENTATION_RULES.REGION_ACCESS"] = {"ROLE_NAME", "REGION"}
    return tables


def test_table_script_is_generated_from_the_model():
    assert (DEPLOY / "10_tables.sql").read_text() == tables_sql(), (
        "regenerate: python -m territory.loader.snowflake_ddl > deploy/snowflake/10_tables.sql"
    )


def test_policy_script_is_generated_from_the_role_policy():
    assert (DEPLOY / "30_policies.sql").read_text() == policies_sql(), (
        "regenerate: python -m territory.loader.snowflake_policies"
        " > deploy/snowflake/30_policies.sql"
    )


def _mask_readers(policy: str) -> set[str]:
    """The roles a masking policy of the deploy script shows the value to."""
    (stmt,) = [
        stmt for _, stmt in statements() if stmt.startswith(f"ALTER MASKING POLICY {policy} ")
    ]
    shown = re.search(r"CASE WHEN (.+?) THEN VAL", stmt)
    assert shown, stmt
    return set(re.findall(r"IS_ROLE_IN_SESSION\('([A-Z_]+)'\)", shown.group(1)))


def test_snowflake_masks_what_the_api_masks_for_every_role():
    from territory.api.security import Principal

    tax = _mask_readers("CORE.SEGMENTATION_RULES.TAX_ID_MASK")
    email = _mask_readers("CORE.SEGMENTATION_RULES.EMAIL_MASK")
    for role in Role:
        api = Principal(subject="x", roles=frozenset({role}), regions=frozenset({"NA"}))
        assert (role.value in tax) == api.sees_tax_id, role
        assert (role.value in email) == api.sees_emails, role
    assert "CRM_ANALYST" in email  # the decided policy: analysts see e-mails
    assert "CRM_ANALYST" not in tax
    assert "SALES_LEADERSHIP" not in email | tax
    row = next(
        stmt
        for _, stmt in statements()
        if stmt.startswith("ALTER ROW ACCESS POLICY CORE.SEGMENTATION_RULES.REGION_ROW_POLICY")
    )
    unrestricted = set(re.findall(r"IS_ROLE_IN_SESSION\('([A-Z_]+)'\)", row))
    for role, policy in POLICY.items():
        api = Principal(subject="x", roles=frozenset({role}), regions=frozenset({"NA"}))
        assert (role.value in unrestricted) == policy.all_regions == (api.region_scope is None)


def test_scripts_run_twice_against_fakesnow_and_views_hide_pii():
    with fakesnow.patch(nop_regexes=UNPARSED):
        conn = snowflake.connector.connect(user="u", password="p", account="a")
        for _ in range(2):  # re-runnable
            for name, stmt in statements():
                try:
                    conn.cursor().execute(stmt)
                except Exception as exc:
                    pytest.fail(f"{name}: {stmt[:120]}…: {exc}")
        # The loader writes into the tables the scripts created; the views read them.
        engine = create_warehouse_engine("snowflake://u:p@a/territory")
        migrate(engine)
        writer = WarehouseWriter(engine)
        from factories import loaded

        items, raw = loaded(
            [
                ruleset("v1"),
                golden(
                    "c1",
                    ["001"],
                    tax_id="123456789",
                    country="US",
                    advisor_email="hint@example.com",
                ),
                assigned("c1", "na-east", "ann@example.com", minute=5),
                conflict("multi:c1", minute=6),
            ]
        )
        from datetime import UTC, datetime

        writer.write(items, raw_json=raw, batch_id="b1", started_at=datetime.now(UTC))
        with engine.connect() as sa:
            view = (
                sa.execute(text("SELECT * FROM CORE.ASSIGNMENTS.V_CURRENT_ASSIGNMENTS"))
                .mappings()
                .all()
            )
            workload = (
                sa.execute(text("SELECT * FROM CORE.ASSIGNMENTS.V_ADVISOR_WORKLOAD"))
                .mappings()
                .all()
            )
            open_conflicts = sa.execute(
                text("SELECT * FROM CORE.ASSIGNMENTS.V_OPEN_CONFLICTS")
            ).all()
        engine.dispose()
        conn.close()
    assert len(view) == 1
    columns = {k.lower() for k in view[0]}
    assert view[0]["territory_name"] == "North America East"
    assert not columns & {"tax_id", "advisor_email_hint", "address", "lei"}
    assert [(w["advisor_email"], w["clients"]) for w in workload] == [("ann@example.com", 1)]
    assert len(open_conflicts) == 1


def test_statements_fakesnow_cannot_parse_are_valid_and_consistent():
    created_roles: set[str] = set()
    granted_roles: set[str] = set()
    created_policies: dict[str, str] = {}
    attached: list[tuple[str, str, str]] = []
    checked = 0
    for name, stmt in statements():
        if not is_unparsed(stmt):
            continue
        matches = {form: re.fullmatch(rx, stmt) for form, rx in FORMS.items()}
        found = [(form, m) for form, m in matches.items() if m]
        assert found, f"{name}: not a statement form the validator knows: {stmt}"
        form, m = found[0]
        checked += 1
        groups = m.groupdict()
        if form == "create_role":
            created_roles.add(groups["role"])
        if groups.get("granted"):
            granted_roles.add(groups["granted"])
        if groups.get("grantee"):
            granted_roles.add(groups["grantee"])
        if form == "create_policy":
            created_policies[groups["policy"]] = groups["kind"]
        if groups.get("body"):
            body = groups["body"]
            sqlglot.parse_one(
                f"SELECT {body}", read="snowflake", error_level=sqlglot.ErrorLevel.RAISE
            )
            granted_roles.update(re.findall(r"IS_ROLE_IN_SESSION\('([A-Z_]+)'\)", body))
        if form in ("add_row_policy", "set_mask"):
            attached.append((groups["table"], groups["column"], groups["policy"]))
        if form == "drop_row_policies":
            assert groups["table"] in model_columns()
    assert checked >= 40
    assert "SYSADMIN" not in created_roles
    assert {"TERRITORY_ADMIN", "DATA_ENGINEER", "CRM_ANALYST", "SALES_LEADERSHIP"} <= created_roles
    assert granted_roles - created_roles <= SYSTEM_ROLES, granted_roles - created_roles
    tables = model_columns()
    for table, column, policy in attached:
        assert policy in created_policies, policy
        assert table in tables, table
        assert column in tables[table], f"{table}.{column}"
    masked = {(t.split(".")[-1], c) for t, c, p in attached if created_policies[p] == "MASKING"}
    assert {("CLIENT_DIM", "TAX_ID"), ("CLIENT_DIM", "ADVISOR_EMAIL_HINT")} <= masked
    assert any(created_policies[p] == "ROW ACCESS" and c == "REGION" for _, c, p in attached)


def test_the_validator_refuses_what_snowflake_would():
    for bad in [
        "CREATE ROLE DATA ENGINEER",
        "GRANT ROLE DATA_ENGINEER ROLE TERRITORY_ADMIN",
        "ALTER TABLE CORE.X.Y MODIFY COLUMN A SET MASKING POLICY",
    ]:
        assert not any(re.fullmatch(rx, bad) for rx in FORMS.values()), bad
    with pytest.raises(sqlglot.errors.ParseError):
        sqlglot.parse_one(
            "SELECT CASE WHEN IS_ROLE_IN_SESSION('X') THEN VAL ELSE", read="snowflake"
        )

"""Secrets from env_var() never reach artifacts, console output, error messages or `debug`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sparkmodels.app.cli import cli
from sparkmodels.report.redact import MASK, redact, redact_text, secret_values

SECRET = "hunter2-very-secret"


def test_secret_values_come_from_secret_named_variables_only():
    env = {"MY_API_TOKEN": "tok-123456", "DB_PASSWORD": "pw-abcdef", "AWS_SECRET_ACCESS_KEY": "abc/xyz+1",
           "HOME": "/root", "SHORT_KEY": "1", "EMPTY_TOKEN": ""}
    assert set(secret_values(env)) == {"tok-123456", "pw-abcdef", "abc/xyz+1"}
    text = "jdbc://u:pw-abcdef@h?token=tok-123456 home=/root"
    assert redact_text(text, secret_values(env)) == f"jdbc://u:{MASK}@h?token={MASK} home=/root"


def test_redact_walks_nested_values(monkeypatch):
    monkeypatch.setenv("SPARKMODELS_T_SECRET", SECRET)
    data = {"args": {"vars": {"k": SECRET}, "list": [f"x{SECRET}y", 3, None]}, SECRET: True}
    out = redact(data)
    assert SECRET not in json.dumps(out)
    assert out["args"]["list"] == [f"x{MASK}y", 3, None] and out[MASK] is True


def test_secret_is_redacted_from_artifacts_errors_and_debug(make_project, monkeypatch, spark):
    monkeypatch.setenv("WAREHOUSE_PASSWORD", SECRET)
    root = make_project({
        "project.yml": """
            name: demo
            version: '1'
            targets:
              dev:
                master: local[1]
                warehouse: "wh-{{ env_var('WAREHOUSE_PASSWORD') }}"
        """,
        # a var holding the env secret's value (env_var() of a secret name is refused in models)
        "models/leaky.sql": "select '{{ var('pw') }}' as s from no_such_table_anywhere\n",
    })
    result = CliRunner().invoke(cli, ["run", "--project-dir", str(root), "--vars", f"{{pw: {SECRET}}}"])
    assert result.exit_code != 0
    assert "leaky" in result.output and SECRET not in result.output
    for artifact in ("run_results.json", "manifest.json"):
        text = (root / "target" / artifact).read_text()
        assert SECRET not in text, artifact
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    assert MASK in str(run_results["args"]["vars"])  # masked, not dropped

    debug = CliRunner().invoke(cli, ["debug", "--project-dir", str(root)])
    assert SECRET not in debug.output
    assert f"wh-{MASK}" in debug.output  # the target is still shown, with the secret masked
    assert "master:" in debug.output and "cores:" in debug.output


VAR_SECRET = "pw-var-only-4242"  # a --vars value: in no environment variable


def _files_holding(root, secret: str) -> list[str]:
    """Every file (and file name) under root whose bytes contain the secret."""
    found = []
    for path in sorted(root.rglob("*")):
        if secret in path.name:
            found.append(f"name: {path}")
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
            found.append(str(path))
    return found


def test_no_file_the_run_or_the_docs_write_holds_a_secret(make_project, monkeypatch, spark):
    monkeypatch.setenv("SPARKMODELS_T_TOKEN", SECRET)
    root = make_project({
        "project.yml": """
            name: demo
            version: '1'
            target: dev
            targets:
              dev:
                master: local[1]
                warehouse: warehouse
                conf: {spark.sparkmodels.test.token: "{{ env_var('SPARKMODELS_T_TOKEN') }}"}
        """,
        # the secret var reaches the compiled SQL, a config value, and the fingerprint's inputs
        "models/guarded.sql": """
            {{ config(materialized='table', meta={'owner_password': var('db_password')}) }}
            select 1 as x where '{{ var('db_password') }}' is not null
        """,
        "models/after.sql": "{{ config(materialized='table') }}\nselect x from {{ ref('guarded') }}\n",
    })
    vars_ = f"{{db_password: {VAR_SECRET}}}"
    run = CliRunner().invoke(cli, ["build", "--project-dir", str(root), "--vars", vars_])
    assert run.exit_code == 0, run.output
    again = CliRunner().invoke(cli, ["build", "--project-dir", str(root), "--vars", vars_])
    assert "SKIP (unchanged)" in again.output  # digests still tell an unchanged input
    docs = CliRunner().invoke(cli, ["docs", "generate", "--project-dir", str(root), "--vars", vars_])
    assert docs.exit_code == 0, docs.output
    assert (root / "target" / "docs" / "data.js").exists() and (root / "warehouse" / "demo").is_dir()
    for secret in (SECRET, VAR_SECRET):
        assert _files_holding(root / "target", secret) == [], secret
        assert _files_holding(root / "warehouse", secret) == [], secret
        assert secret not in run.output + again.output + docs.output
    compiled = (root / "target" / "compiled" / "demo" / "models" / "guarded.sql").read_text()
    assert f"'{MASK}' is not null" in compiled  # masked, the rest of the SQL kept
    # a changed secret var is still a changed input: the digest differs, the table rebuilds
    changed = CliRunner().invoke(cli, ["build", "--project-dir", str(root), "--vars", "{db_password: other-pw-77}"])
    assert "OK created table guarded" in changed.output, changed.output


def test_a_secret_env_var_in_model_sql_is_a_located_error(make_project, monkeypatch):
    monkeypatch.setenv("SPARKMODELS_T_SECRET", SECRET)
    root = make_project({
        "models/ok.sql": "select 1 as x\n",
        # only inside an if: still refused (it would be in the fingerprint and compiled SQL otherwise)
        "models/leaky.sql": "select 1 as x\n{% if env_var('SPARKMODELS_T_SECRET', '') %}where 1 = 1{% endif %}\n",
    })
    result = CliRunner().invoke(cli, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert "leaky" in result.output and "models/leaky.sql:2" in result.output
    assert "SPARKMODELS_T_SECRET" in result.output and "targets" in result.output
    assert SECRET not in result.output and "Traceback" not in result.output
    assert not (root / "target" / "compiled").exists() or _files_holding(root / "target", SECRET) == []

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
        "models/leaky.sql": "select '{{ env_var('WAREHOUSE_PASSWORD') }}' as s from no_such_table_anywhere\n",
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

"""dbt packages: deps (local, git, hub over a loopback server), package-lock.yml, packages as part of the project."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import sparkmodels
from sparkmodels.app import api
from sparkmodels.app.cli import cli
from sparkmodels.errors import ProjectError
from sparkmodels.project.config import load_config
from sparkmodels.project.loader import load_manifest
from sparkmodels.project.packages import best_version, satisfies
from tests.conftest import write_files

PKG = {
    "dbt_project.yml": """
        name: mypkg
        version: '1.0.0'
        require-dbt-version: [">=1.3.0", "<2.0.0"]
        vars:
          pkg_var: from_pkg
          shared: pkg_default
        models:
          mypkg:
            +materialized: table
            +tags: [pkg]
    """,
    "macros/helpers.sql": """
        {% macro shout(x) %}upper({{ x }}){% endmacro %}
        {% macro twice(x) %}{{ mypkg.shout(x) }} || {{ shout(x) }}{% endmacro %}
    """,
    "macros/tests.sql": """
        {% test positive(model, column_name) %}
        select * from {{ model }} where {{ column_name }} <= 0
        {% endtest %}
    """,
    "models/pkg_model.sql": "select '{{ var('pkg_var') }}' as a, '{{ var('shared') }}' as s, 1 as n\n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: pkg_model\n    columns:\n      - name: n\n"
                         "        data_tests: [not_null]\n",
    "seeds/pkg_seed.csv": "k,v\n1,a\n",
}

ROOT = {
    "dbt_project.yml": """
        name: shop
        version: '1'
        vars:
          shared: root_global
          mypkg:
            pkg_var: root_scoped
        models:
          mypkg:
            +schema: pkgs
    """,
    "models/orders.sql": "select {{ mypkg.shout(\"'x'\") }} as loud, n from {{ ref('pkg_model') }}\n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: n\n"
                         "        data_tests: [mypkg.positive]\n",
}


def _project(tmp_path, packages: str, root_files: dict | None = None) -> Path:
    root = write_files(tmp_path / "shop", {**ROOT, "packages.yml": packages, **(root_files or {})})
    return root


def test_version_ranges():
    assert satisfies("1.3.0", [">=1.0.0", "<2.0.0"]) and not satisfies("2.0.0", ">=1.0.0,<2.0.0")
    assert satisfies("1.3.0", "1.3.0") and not satisfies("1.3.1", "=1.3.0")
    assert best_version(["0.9.0", "1.1.0", "1.3.3", "2.0.0", "1.4.0-b1"], [[">=1.0.0", "<2.0.0"]]) == "1.3.3"
    assert best_version(["1.4.0-b1", "1.3.0"], [">=1.0.0"], prerelease=True) == "1.4.0-b1"


def test_local_package_is_part_of_the_project(tmp_path):
    write_files(tmp_path / "mypkg", PKG)
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n")
    config = load_config(root)
    manifest = load_manifest(config)
    nodes = manifest.nodes
    model = nodes["model.mypkg.pkg_model"]
    assert model.package == "mypkg" and model.path.endswith("mypkg/models/pkg_model.sql")
    # vars: the root's scope for the package > the root's globals > the package's own
    assert "'root_scoped' as a, 'root_global' as s" in model.rendered
    # configs: the package's dbt_project.yml, with the root's models: mypkg: on top
    assert model.config["materialized"] == "table" and model.config["schema"] == "pkgs"
    assert "pkg" in model.config["tags"]
    assert "seed.mypkg.pkg_seed" in nodes
    orders = nodes["model.shop.orders"]
    assert "upper('x') as loud" in orders.rendered and "model.mypkg.pkg_model" in orders.depends_on
    assert "macro.mypkg.shout" in orders.depends_on_macros and "macro.mypkg.shout" in manifest.macros
    tests = {n.name: n for n in nodes.values() if n.resource_type == "test"}
    assert "mypkg_positive_orders_n" in tests  # dbt names a package's generic test with its namespace
    assert "where n <= 0" in tests["mypkg_positive_orders_n"].rendered
    assert "not_null_pkg_model_n" in tests and tests["not_null_pkg_model_n"].package == "mypkg"
    # the package's require-dbt-version admits dbt 1.9: no warning
    assert not [w for w in manifest.warnings if "requires dbt" in w]


def test_package_selector_artifacts_and_cli(tmp_path):
    write_files(tmp_path / "mypkg", PKG)
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n")
    nodes, _ = sparkmodels.ls(root, select=["package:mypkg"])
    assert {n.name for n in nodes} == {"pkg_model", "pkg_seed", "not_null_pkg_model_n"}
    sparkmodels.compile(root)
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["model.mypkg.pkg_model"]["package_name"] == "mypkg"
    assert "macro.mypkg.twice" in manifest["macros"]
    out = CliRunner().invoke(cli, ["ls", "--project-dir", str(root), "-s", "package:mypkg", "-o", "name"])
    assert out.exit_code == 0 and "pkg_model" in out.output


def test_package_builds_on_spark(tmp_path, spark):
    write_files(tmp_path / "mypkg", PKG)
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n")
    result = sparkmodels.build(root, spark=spark)
    assert result.success, [(r.unique_id, r.message) for r in result.results if r.status != "success"]
    rows = spark.sql("select * from `orders`").collect()
    assert rows[0]["loud"] == "X" and rows[0]["n"] == 1


def test_require_dbt_version_mismatch_warns(tmp_path):
    write_files(tmp_path / "mypkg", {**PKG, "dbt_project.yml": "name: mypkg\nversion: '1'\n"
                                     "require-dbt-version: '>=2.0.0'\nvars: {pkg_var: x, shared: y}\n"})
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n",
                    {"dbt_project.yml": "name: shop\nversion: '1'\nrequire-dbt-version: '<1.5.0'\n"})
    manifest = load_manifest(load_config(root))
    text = "\n".join(manifest.warnings)
    assert "'mypkg' requires dbt >=2.0.0; sparkmodels follows dbt 1.9.0" in text
    assert "'shop' requires dbt <1.5.0" in text


def test_deps_local_links_and_writes_lock(tmp_path):
    write_files(tmp_path / "mypkg", PKG)
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n")
    out = CliRunner().invoke(cli, ["deps", "--project-dir", str(root)])
    assert out.exit_code == 0, out.output
    assert (root / "dbt_packages" / "mypkg").is_symlink()
    lock = yaml.safe_load((root / "package-lock.yml").read_text())
    assert lock["packages"] == [{"local": "../mypkg", "name": "mypkg"}] and lock["sha1_hash"]
    assert "model.mypkg.pkg_model" in load_manifest(load_config(root)).nodes


def _git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd or "."), "PATH": "/usr/bin:/bin"})


def test_deps_git_package_with_revision_and_subdirectory(tmp_path):
    work = tmp_path / "work"
    write_files(work / "sub", PKG)
    _git("init", "-q", "-b", "main", str(work))
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "v1", cwd=work)
    _git("tag", "v1", cwd=work)
    (work / "sub" / "models" / "later.sql").write_text("select 2 as n\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "v2", cwd=work)
    bare = tmp_path / "pkg.git"
    _git("clone", "-q", "--bare", str(work), str(bare))
    root = _project(tmp_path, f"packages:\n  - git: {bare}\n    revision: v1\n    subdirectory: sub\n")
    entries = api.deps(root)
    assert entries[0]["name"] == "mypkg" and len(entries[0]["revision"]) == 40
    installed = root / "dbt_packages" / "mypkg"
    assert (installed / "models" / "pkg_model.sql").is_file() and not (installed / "models" / "later.sql").exists()
    lock = yaml.safe_load((root / "package-lock.yml").read_text())
    assert lock["packages"][0]["subdirectory"] == "sub"
    assert "model.mypkg.pkg_model" in load_manifest(load_config(root)).nodes


def _tarball(files: dict, top: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in files.items():
            import textwrap

            data = textwrap.dedent(text).lstrip("\n").encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def hub():
    """A loopback package hub: /api/v1/acme/mypkg.json and its tarballs; records the paths asked for."""
    blobs = {v: _tarball({**PKG, "models/pkg_model.sql": f"select '{v}' as version, 1 as n\n"}, f"mypkg-{v}")
             for v in ("0.9.0", "1.1.0", "1.2.0", "2.0.0")}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            asked.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/api/v1/acme/mypkg.json":
                body = json.dumps({"name": "mypkg", "namespace": "acme", "latest": "2.0.0", "versions": {
                    v: {"name": "mypkg", "version": v, "downloads": {
                        "tarball": f"{base}/tar/{v}.tar.gz", "sha1": hashlib.sha1(blob).hexdigest()}}
                    for v, blob in blobs.items()}}).encode()
            elif self.path.startswith("/tar/") and self.path[5:-7] in blobs:
                body = blobs[self.path[5:-7]]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()
    server.server_close()


def test_deps_hub_package_resolves_a_version_range(tmp_path, hub, monkeypatch):
    url, asked = hub
    root = _project(tmp_path, "packages:\n  - package: acme/mypkg\n    version: ['>=1.0.0', '<2.0.0']\n")
    with pytest.raises(ProjectError, match="declared but not installed.*"):
        load_config(root)
    monkeypatch.setenv("DBT_PACKAGE_HUB_URL", url)
    entries = api.deps(root)
    assert entries == [{"package": "acme/mypkg", "version": "1.2.0", "name": "mypkg"}]
    assert "/api/v1/acme/mypkg.json" in asked and "/tar/1.2.0.tar.gz" in asked
    model = load_manifest(load_config(root)).nodes["model.mypkg.pkg_model"]
    assert "'1.2.0' as version" in model.rendered
    # package-lock.yml pins the version while packages.yml is unchanged; --upgrade resolves again
    lock = root / "package-lock.yml"
    lock.write_text(lock.read_text().replace("1.2.0", "1.1.0"))
    assert api.deps(root)[0]["version"] == "1.1.0"
    assert api.deps(root, upgrade=True, hub_url=url)[0]["version"] == "1.2.0"


def test_deps_hub_without_a_matching_version(tmp_path, hub):
    url, _ = hub
    root = _project(tmp_path, "packages:\n  - package: acme/mypkg\n    version: '>=3.0.0'\n")
    with pytest.raises(ProjectError, match="no version of hub package 'acme/mypkg' meets >=3.0.0"):
        api.deps(root, hub_url=url)


def test_dbt_deps_folder_runs_as_is(tmp_path):
    """dbt_packages/ filled by `dbt deps` (a plain copy, no lock) loads without sparkmodels deps."""
    write_files(tmp_path / "shop" / "dbt_packages" / "mypkg", PKG)
    root = _project(tmp_path, "packages:\n  - package: acme/mypkg\n    version: 1.0.0\n")
    assert isinstance(Path(root), Path)
    manifest = load_manifest(load_config(root))
    assert manifest.nodes["model.mypkg.pkg_model"].path == "dbt_packages/mypkg/models/pkg_model.sql"


def test_dependencies_yml_and_env_var_in_package_specs(tmp_path, monkeypatch):
    monkeypatch.setenv("SM_TEST_PKG_DIR", "../mypkg")
    write_files(tmp_path / "mypkg", PKG)
    root = write_files(tmp_path / "shop", {**ROOT, "dependencies.yml":
                                           "packages:\n  - local: \"{{ env_var('SM_TEST_PKG_DIR') }}\"\n"})
    assert [e["name"] for e in api.deps(root)] == ["mypkg"]
    assert "model.mypkg.pkg_model" in load_manifest(load_config(root)).nodes


def test_package_docs_blocks_and_analyses_load(tmp_path):
    pkg = {**PKG,
           "models/docs.md": "{% docs pkg_doc %}From the package.{% enddocs %}\n{% docs shared_doc %}pkg's{% enddocs %}\n",
           "models/schema.yml": "version: 2\nmodels:\n  - name: pkg_model\n    description: \"{{ doc('pkg_doc') }}\"\n"
                                "    config: {contract: {enforced: true}}\n"
                                "    columns:\n      - name: n\n        description: \"{{ doc('shared_doc') }}\"\n"
                                "        data_type: int\n        constraints: [{type: unique}]\n"
                                "      - {name: a, data_type: string}\n      - {name: s, data_type: string}\n",
           "analyses/pkg_report.sql": "select count(*) from {{ ref('pkg_model') }}\n"}
    write_files(tmp_path / "mypkg", pkg)
    root = _project(tmp_path, "packages:\n  - local: ../mypkg\n", {
        "models/docs.md": "{% docs shared_doc %}the root's{% enddocs %}\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    description: \"{{ doc('mypkg', 'shared_doc') }}"
                             " / {{ doc('pkg_doc') }}\"\n"})
    manifest = load_manifest(load_config(root))
    model = manifest.nodes["model.mypkg.pkg_model"]
    assert model.description == "From the package."
    assert model.columns["n"].description == "the root's"  # dbt: the root project's block comes first
    assert manifest.nodes["model.shop.orders"].description == "pkg's / From the package."
    analysis = manifest.nodes["analysis.mypkg.pkg_report"]
    assert analysis.package == "mypkg" and analysis.path.endswith("mypkg/analyses/pkg_report.sql")
    # a package model's contract warnings name the file from the root project
    [warning] = [w for w in manifest.warnings if "unique constraint on pkg_model.n" in w]
    assert warning.startswith(analysis.path.replace("analyses/pkg_report.sql", "models/schema.yml:10:"))
    assert analysis.depends_on == ("model.mypkg.pkg_model",)
    sparkmodels.compile(root)
    compiled = list((root / "target/compiled").rglob("pkg_report.sql"))
    assert len(compiled) == 1 and "`pkg_model`" in compiled[0].read_text()


def test_duplicate_names_across_packages_need_the_two_argument_ref(tmp_path):
    """dbt allows one name in two packages; ref('m') prefers the root, then the caller's package, and
    is ambiguous between two other packages; ref('pkg', 'm') picks one. Relations must still differ."""
    other = {"dbt_project.yml": "name: otherpkg\nversion: '1'\n",
             "models/pkg_model.sql": "{{ config(alias='other_pkg_model') }}\nselect 2 as n\n"}
    write_files(tmp_path / "mypkg", PKG)
    write_files(tmp_path / "otherpkg", other)
    packages = "packages:\n  - local: ../mypkg\n  - local: ../otherpkg\n"
    root = _project(tmp_path, packages)
    with pytest.raises(sparkmodels.errors.CompilationError) as info:
        load_manifest(load_config(root))
    err = info.value
    assert "when referencing 'pkg_model', found nodes in multiple packages: 'model.mypkg.pkg_model', " \
           "'model.otherpkg.pkg_model'" in err.message
    assert "ref('mypkg', 'pkg_model') or ref('otherpkg', 'pkg_model')" in err.message
    assert (err.node, err.path, err.line) == ("orders", "models/orders.sql", 1)

    (root / "models/orders.sql").write_text(
        "select a.n, b.n as m from {{ ref('otherpkg', 'pkg_model') }} a cross join {{ ref('mypkg', 'pkg_model') }} b\n")
    manifest = load_manifest(load_config(root))
    orders = manifest.nodes["model.shop.orders"]
    assert set(orders.depends_on) == {"model.otherpkg.pkg_model", "model.mypkg.pkg_model"}
    assert orders.to_dict()["refs"][0] == {"name": "pkg_model", "package": "otherpkg", "version": None}
    compiled = sparkmodels.compile(root, select=["orders"]).compiled
    [sql] = [s for uid, s in compiled.items() if uid == "model.shop.orders"]
    assert "from `other_pkg_model` a cross join `pkg_model` b" in sql
    # a package's own one-argument ref finds its own model; its YAML test refs it with the package
    tests = {n.name: n for n in manifest.nodes.values() if n.resource_type == "test"}
    assert tests["not_null_pkg_model_n"].depends_on == ("model.mypkg.pkg_model",)

    # the same relation name twice (no alias) is dbt's "two resources with the database representation"
    write_files(tmp_path / "otherpkg", {"models/pkg_model.sql": "select 2 as n\n"})
    with pytest.raises(ProjectError, match="two resources have the relation name 'pkg_model': model.mypkg.pkg_model") as info:
        load_manifest(load_config(root))
    assert "otherpkg/models/pkg_model.sql" in info.value.path
    with pytest.raises(ProjectError, match="two resources are named 'twice'"):
        write_files(tmp_path / "otherpkg", {"models/pkg_model.sql": "{{ config(alias='o') }}\nselect 2 as n\n",
                                            "models/a/twice.sql": "select 1\n", "models/b/twice.sql": "select 1\n"})
        load_manifest(load_config(root))

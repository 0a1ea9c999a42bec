"""Project files on disk (project/files.py): the folder walk and source reading (no Spark)."""

from __future__ import annotations

import pytest

from sparkmodels.project.files import read_source, walk


def test_file_walk_matches_sorted_rglob_and_skips_hidden(tmp_path):
    base = tmp_path / "models"
    for rel in ("b.sql", "a/z.sql", "a.sql", "a_b/c.sql", "A/x.sql", ".hidden.sql", ".git/k.sql",
                "d/.e/f.sql", "d/g.py", "a/b/c/d.sql"):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text("select 1")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked.sql").write_text("select 2")
    (base / "linkdir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # not entered
    (base / "linkfile.sql").symlink_to(tmp_path / "elsewhere" / "linked.sql")  # a file: kept
    (base / "broken.sql").symlink_to(tmp_path / "nowhere.sql")
    expected = [str(p) for p in sorted(base.rglob("*")) if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(base).parts)]
    assert walk(str(base)) == expected
    assert "linkdir" not in " ".join(expected)


def test_read_source_reads_like_read_text(tmp_path):
    path = tmp_path / "m.sql"
    for data in (b"select 1\r\nfrom t\rwhere x\n", "caf\u00e9 \u2603\n".encode(), b"", b"\xef\xbb\xbfbom"):
        path.write_bytes(data)
        assert read_source(path) == path.read_text(encoding="utf-8")
    path.write_bytes(b"\xff")
    with pytest.raises(UnicodeDecodeError):
        read_source(path)

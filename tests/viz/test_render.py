"""Writing diagrams: pictures with `dot`, DOT text and one line of advice without it."""

import pytest

from graphc.viz import DiagramError, render

SOURCE = "digraph { a -> b }"


@pytest.mark.parametrize(
    "suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")]
)
@pytest.mark.needs_dot
def test_renders_with_dot(tmp_path, suffix, magic):
    written = render(SOURCE, tmp_path / f"sub/g{suffix}")
    assert written == tmp_path / f"sub/g{suffix}"
    assert written.read_bytes().startswith(magic)


def test_dot_suffix_writes_text(tmp_path):
    assert render(SOURCE, tmp_path / "g.dot").read_text() == SOURCE


def test_missing_dot_writes_text_and_one_line(tmp_path, no_dot, capsys):
    written = render(SOURCE, tmp_path / "g.png")
    assert written == tmp_path / "g.dot" and written.read_text() == SOURCE
    assert not (tmp_path / "g.png").exists()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "install graphviz" in captured.err


def test_unknown_suffix_is_named(tmp_path):
    with pytest.raises(DiagramError, match=r"g\.bmp.*\.svg"):
        render(SOURCE, tmp_path / "g.bmp")


@pytest.mark.needs_dot
def test_dot_failure_is_reported_and_keeps_the_old_picture(tmp_path):
    (tmp_path / "g.svg").write_text("old picture")
    with pytest.raises(DiagramError, match="dot failed"):
        render("digraph { a -> }", tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text() == "old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temporary file left

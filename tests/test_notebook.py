"""Notebooks: a Network shows as its check table in HTML; net.graph() is a
diagram that displays as SVG (Graphviz's dot; a clear note without it)."""

import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

import cnndsl
from cnndsl.backends.graph import notebook
from cnndsl.report.table import rows

ROOT = Path(__file__).resolve().parent.parent


class Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.inside = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        self.inside = tag in ("td", "th")

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.rows[-1].append(data)


def test_network_html_is_the_check_table():
    net = cnndsl.load(ROOT / "specs" / "resnet18.cnn")
    page = net._repr_html_()
    parser = Cells()
    parser.feed(page)
    assert parser.rows[0] == ["Layer", "Op", "Output", "Params", "MACs", "RF", "Jump"]
    assert [tuple(r) for r in parser.rows[1:]] == rows(net.analysis)
    assert "Total params: 11,689,512" in page and "torchinfo" in page


def test_html_escapes_what_the_spec_names(tmp_path):
    spec = tmp_path / "a&b.cnn"
    spec.write_text("network n {\n  input 1x8x8\n  flatten; fc(2)\n}\n")
    page = cnndsl.load(spec)._repr_html_()
    assert "a&amp;b.cnn" in page and "a&b.cnn" not in page


def test_graph_without_dot_says_how_to_install(monkeypatch):
    monkeypatch.setattr(notebook, "find_dot", lambda: None)
    diagram = cnndsl.load(ROOT / "specs" / "lenet5.cnn").graph(depth=1)
    bundle = diagram._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "Graphviz" in bundle["text/html"] and "digraph" in bundle["text/html"]
    with pytest.raises(notebook.GraphvizMissing, match="install Graphviz"):
        diagram.svg()
    assert "\ndigraph " in diagram.source and "flowchart" in diagram.mermaid()


def test_graph_displays_as_svg_with_dot(monkeypatch, tmp_path):
    # a stand-in for Graphviz: checks it is asked for SVG and reads the DOT from stdin
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 9\n'
                    'grep -q digraph && echo "<svg xmlns=\'http://www.w3.org/2000/svg\'/>"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(notebook, "find_dot", lambda: str(fake))
    bundle = cnndsl.load(ROOT / "specs" / "lenet5.cnn").graph()._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg")


@pytest.mark.skipif(notebook.find_dot() is None, reason="Graphviz dot is not installed")
def test_graph_svg_with_real_dot():
    svg = cnndsl.load(ROOT / "specs" / "lenet5.cnn").graph().svg()
    assert "<svg" in svg and "conv1" in svg


def test_graph_is_still_the_ir(tmp_path):
    net = cnndsl.load(ROOT / "specs" / "lenet5.cnn")
    assert net.graph.nodes[0].op == "input" and net.graph(depth=None).graph is net.graph
    with pytest.raises(ValueError):
        net.graph(depth=0)
    written = net.graph().save(tmp_path / "lenet5.dot")
    assert Path(written).read_text() == net.graph().source

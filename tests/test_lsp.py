"""`cnndsl lsp` end to end: a real LSP client (pytest-lsp) drives the server over stdio."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls import uris
from pytest_lsp import ClientServerConfig, LanguageClient

from cnndsl.syntax.format import format_text

ROOT = Path(__file__).resolve().parent.parent
on_server = pytest.mark.asyncio(loop_scope="module")  # one server for the module

LIBRARY = """\
# a library
block stage(c, stride = 1) {
  conv(c, 3, stride=stride, pad=1, bias=false); bn; relu
  conv(c, 3, pad=1, groups=4)
}
"""

SPEC = """\
import "lib.cnn"

network net(classes = 10) {
  input 3x32x32
  conv(16, 3, pad=1); relu -> stem
  stage(32, stride=2)
  concat { identity; path from stem { maxpool(2) } }
  avgpool(global); flatten; fc(classes)
}
"""


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "cnndsl", "lsp"],
    server_env={**os.environ, "PYTHONPATH": str(ROOT)}))
async def client(lsp_client: LanguageClient):
    # the server asks to watch **/*.cnn on disk; this client accepts and does nothing
    lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
        initialization_options={"throttleMs": 0}))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lsp")
    (folder / "lib.cnn").write_text(LIBRARY)
    return folder


async def until(condition, timeout: float = 20.0):
    """Wait for the server's notifications to make `condition()` true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the server did not answer in time")
        await asyncio.sleep(0.02)


class Doc:
    """An open document and its edits (full-text changes, as some clients send)."""

    def __init__(self, client, path: Path, text: str):
        self.client, self.uri, self.version = client, uris.from_fs_path(str(path)), 1
        self.text = text
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=self.uri, language_id="cnn", version=1,
                                                 text=text)))

    def change(self, text: str):
        self.version += 1
        self.text = text
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri,
                                                                version=self.version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    def close(self):
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri)))

    def position(self, needle: str, offset: int = 0) -> types.Position:
        """The position of `needle` (plus `offset` characters) in the text."""
        index = self.text.index(needle) + offset
        line = self.text.count("\n", 0, index)
        return types.Position(line=line, character=index - self.text.rfind("\n", 0, index) - 1)

    def diagnostics(self):
        return self.client.diagnostics.get(self.uri)

    def clean(self) -> bool:
        """Diagnostics arrived, and there are none."""
        found = self.diagnostics()
        return found is not None and len(found) == 0

    @property
    def id(self):
        return types.TextDocumentIdentifier(uri=self.uri)


@on_server
async def test_diagnostic_at_its_range_with_the_call_chain_then_cleared(client, folder):
    """An error inside a library block: on the library line, and on the spec at the
    call, with the chain of calls as related information; fixed, the list empties."""
    spec = Doc(client, folder / "chain.cnn", SPEC.replace("stage(32", "stage(30"))
    await until(lambda: spec.diagnostics())
    [error] = spec.diagnostics()
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.message.startswith("groups=4 must divide both the input channels (30)")
    assert "(in lib.cnn:4)" in error.message
    assert (error.range.start.line, error.range.start.character) == (5, 2)  # stage(30, ...)
    assert (error.range.end.line, error.range.end.character) == (5, 21)
    related = [(r.location.uri.rsplit("/", 1)[1], r.location.range.start.line, r.message)
               for r in error.related_information]
    assert related[0][:2] == ("lib.cnn", 3)  # the library line itself
    assert related[1] == ("chain.cnn", 5, "in stage(c=30, stride=2) called here")
    library_uri = uris.from_fs_path(str(folder / "lib.cnn"))
    await until(lambda: client.diagnostics.get(library_uri))
    [on_library] = client.diagnostics[library_uri]
    assert on_library.range.start.line == 3 and on_library.range.start.character == 2
    assert on_library.related_information[0].message == "in stage(c=30, stride=2) called here"

    spec.change(SPEC)
    await until(spec.clean)
    await until(lambda: len(client.diagnostics[library_uri]) == 0)
    spec.close()


@on_server
async def test_one_syntax_error_does_not_hide_the_rest(client, folder):
    text = ("block b(c) {\n  conv(c, 3 pad=1); relu\n}\n"
            "network n {\n  input 3x8x8\n  conv(8, 3, pad=9)\n  fc(10,, 3)\n  relu\n}\n")
    doc = Doc(client, folder / "broken.cnn", text)
    await until(lambda: doc.diagnostics())
    found = sorted((d.range.start.line, d.severity, d.message.split(";")[0])
                   for d in doc.diagnostics())
    assert found == [(1, types.DiagnosticSeverity.Error, "unexpected 'pad'"),
                     (5, types.DiagnosticSeverity.Warning,
                      "padding 9 is as large as the 3x3 kernel: the outermost outputs see "
                      "only padding\nhint: pad=1 keeps the size of the map (`pad=same` at any "
                      "stride)"),
                     (6, types.DiagnosticSeverity.Error, "unexpected ','")]
    doc.close()


@on_server
async def test_hover_a_layer_and_a_block_call(client, folder):
    doc = Doc(client, folder / "hover.cnn", SPEC)
    await until(lambda: doc.diagnostics() is not None)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc.id, position=doc.position("maxpool(2)", 2)))
    assert "**maxpool**" in hover.contents.value
    assert "| `maxpool1` | 16x16x16 | – | – | 4 (jump 2) |" in hover.contents.value
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc.id, position=doc.position("stage(32", 1)))
    text = hover.contents.value
    assert "`stage(c=32, stride=2)` → **32x16x16**" in text and "params 7,008" in text
    doc.close()


@on_server
async def test_inlay_hints_for_a_small_spec(client, folder):
    text = ("network n {\n  input 3x32x32\n  conv(8, 3, stride=2, pad=1); relu\n"
            "  maxpool(2)\n  add { identity\n        path { conv(8, 1) } }\n"
            "  flatten; fc(10)\n}\n")
    doc = Doc(client, folder / "hints.cnn", text)
    await until(lambda: doc.diagnostics() is not None)
    everything = types.Range(start=types.Position(line=0, character=0),
                             end=types.Position(line=9, character=0))
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=doc.id, range=everything))
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [
        (2, 35, "-> 8x16x16"), (3, 12, "-> 8x8x8"), (5, 29, "-> 8x8x8"), (6, 17, "-> 10")]
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="cnndsl.toggleInlayHints"))
    assert result is False
    assert await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=doc.id, range=everything)) in ([], ())
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="cnndsl.toggleInlayHints"))
    doc.close()


@on_server
async def test_completion_inside_a_block(client, folder):
    text = ("import \"lib.cnn\"\nblock b(c, k = 3) {\n  conv(c, 1) -> x\n  \n}\n"
            "network n {\n  input 3x8x8\n  b(4)\n}\n")
    doc = Doc(client, folder / "complete.cnn", text)
    await until(lambda: doc.diagnostics() is not None)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=doc.id, position=types.Position(line=3, character=2)))
    labels = {item.label: item for item in result.items}
    assert {"conv", "maxpool", "relu", "stage", "b", "x", "repeat", "concat"} <= set(labels)
    assert labels["conv"].detail.startswith("conv(channels, kernel, stride=1")
    assert labels["stage"].detail == "block stage(c, stride=1)"

    doc.change(text.replace("  \n}", "  conv(c, 3, \n}"))
    await until(lambda: any("conv(c, 3," in line for line in [doc.text]))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=doc.id, position=doc.position("conv(c, 3, ", 11)))
    labels = {item.label: item for item in result.items}
    assert labels["stride="].detail == "default 1" and "k" in labels and "c" in labels
    assert labels["pad="].documentation.startswith("int, HxW")
    help_ = await client.text_document_signature_help_async(types.SignatureHelpParams(
        text_document=doc.id, position=doc.position("conv(c, 3, ", 11)))
    assert help_.signatures[0].label.startswith("conv(channels, kernel, stride=1")
    assert help_.active_parameter == 2
    doc.close()


@on_server
async def test_go_to_definition_across_an_import_and_references(client, folder):
    doc = Doc(client, folder / "goto.cnn", SPEC)
    await until(lambda: doc.diagnostics() is not None)
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc.id, position=doc.position("stage(32", 2)))
    assert found.uri == uris.from_fs_path(str(folder / "lib.cnn"))
    assert (found.range.start.line, found.range.start.character) == (1, 6)  # block |stage
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc.id, position=doc.position("from stem", 6)))
    assert found.uri == doc.uri and found.range.start.line == 4  # ... relu -> stem
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc.id, position=doc.position('"lib.cnn"', 2)))
    assert found.uri.endswith("/lib.cnn")
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc.id, position=doc.position("stage(32", 2),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted((r.uri.rsplit("/", 1)[1], r.range.start.line) for r in refs) == [
        ("goto.cnn", 5), ("lib.cnn", 1)]
    doc.close()


@on_server
async def test_formatting_returns_the_cnndsl_fmt_output(client, folder):
    text = "network n {\ninput 3x8x8\n    conv(8,3,pad = 1) ;relu   # first\n\n\n  fc(2)\n}"
    doc = Doc(client, folder / "fmt.cnn", text)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc.id, options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
    [edit] = edits
    assert (edit.range.start.line, edit.range.start.character) == (0, 0)
    assert edit.range.end.line >= text.count("\n")
    assert edit.new_text == format_text(text, "fmt.cnn")
    doc.close()


@on_server
async def test_outline(client, folder):
    doc = Doc(client, folder / "outline.cnn", SPEC)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=doc.id))
    [net] = symbols
    assert (net.name, net.kind, net.detail) == ("net", types.SymbolKind.Class,
                                                "network(classes)")
    assert [c.name for c in net.children] == ["stem"]
    doc.close()


@on_server
async def test_an_edited_library_rechecks_its_importers(client, folder):
    """On disk (the editor reports the change) or in an open buffer, which wins over
    the disk; an open library shows the shapes of the spec that imports it."""
    spec = Doc(client, folder / "importer.cnn", SPEC)
    await until(spec.clean)
    library_path = folder / "lib.cnn"
    changed = types.DidChangeWatchedFilesParams(changes=[types.FileEvent(
        uri=uris.from_fs_path(str(library_path)), type=types.FileChangeType.Changed)])
    library_path.write_text(LIBRARY.replace("groups=4", "groups=6"))
    client.workspace_did_change_watched_files(changed)
    await until(lambda: spec.diagnostics() and "groups=6" in spec.diagnostics()[0].message)
    library_path.write_text(LIBRARY)
    client.workspace_did_change_watched_files(changed)
    await until(spec.clean)

    library = Doc(client, library_path, LIBRARY)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=library.id, position=library.position("relu")))
    assert "| `stage1.relu1` | 32x16x16 |" in hover.contents.value
    library.change(LIBRARY.replace("groups=4", "groups=5"))  # the open buffer wins
    await until(lambda: spec.diagnostics() and "groups=5" in spec.diagnostics()[0].message)
    library.close()  # back to the file on disk
    await until(spec.clean)
    spec.close()


@on_server
async def test_files_importing_each_other_settle(client, folder):
    """An import cycle (allowed) must not make two open files re-check each other
    for ever."""
    (folder / "a.cnn").write_text('import "b.cnn"\nblock a1() { relu }\n')
    (folder / "b.cnn").write_text('import "a.cnn"\nblock b1() { a1 }\n')
    a = Doc(client, folder / "a.cnn", (folder / "a.cnn").read_text())
    b = Doc(client, folder / "b.cnn", (folder / "b.cnn").read_text())
    await until(lambda: a.clean() and b.clean())
    a.change('import "b.cnn"\nblock a1() { tanh }\n')
    await asyncio.sleep(0.5)
    more = client.protocol.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.sleep(0.8)  # several throttle windows: nothing more is published
    assert not more.done()
    a.close()
    b.close()


def test_the_server_imports_neither_torch_nor_onnx():
    """Like `cnndsl check`, the language server must answer at once."""
    probe = ("import sys\n"
             "from cnndsl.lsp.server import create_server\n"
             "from cnndsl.lsp.analysis import check\n"
             "from cnndsl.lsp.hover import describe_at\n"
             "create_server()\n"
             "c = check(open('specs/resnet50.cnn').read(), 'specs/resnet50.cnn')\n"
             "describe_at(c, c, 9, 4)\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'torch', 'onnx', 'onnxruntime', 'torchvision', 'numpy', 'jinja2'}))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("before, callee, argument, keyword, statement_start", [
    ("network n {\n  con", None, 0, None, True),
    ("network n {\n  relu; ", None, 0, None, True),
    ("network n {\n  add {\n    path { ", None, 0, None, True),
    ("network n {\n  conv(64, 3, st", "conv", 2, None, False),
    ("network n {\n  conv(64, 3,\n       stride=", "conv", 2, "stride", False),
    ("network n {\n  conv(64, min(3, ", "min", 1, None, False),
    ("network n {\n  repeat ", None, 0, None, False),
])
def test_completion_context(before, callee, argument, keyword, statement_start):
    from cnndsl.lsp.completion import context_at
    ctx = context_at(before)
    assert (ctx.callee, ctx.argument, ctx.keyword, ctx.statement_start) == (
        callee, argument, keyword, statement_start)
    assert not ctx.in_parameters and context_at("block b(c, ").in_parameters


AUX = """network aux_net(classes = 10) {
  input 3x16x16
  conv(8, 3, pad=1); relu
  output aux1(weight=0.3) { avgpool(global); flatten; fc(classes) }
  conv(16, 3, pad=1); relu; avgpool(global); flatten; fc(classes)
}
"""


@on_server
async def test_output_heads_in_hover_and_outline(client, folder):
    doc = Doc(client, folder / "aux.cnn", AUX)
    await until(doc.clean)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc.id, position=doc.position("aux_net", 1)))
    assert "- output `output` 10: params 1,562 · MACs 350,368\n- output `aux1` 10" in hover.contents.value
    assert "- output `aux1` 10: params 90" in hover.contents.value
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc.id, position=doc.position("fc(classes) }", 1)))
    assert "`aux1.fc1`" in hover.contents.value
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=doc.id))
    [net] = symbols
    assert [(c.name, c.detail) for c in net.children] == [("aux1", "output head")]
    doc.close()

"""The language server (`cnndsl lsp`): pygls over stdio.

The server keeps, for every open document, its latest check (cnndsl.lsp.analysis).
An edit is checked at once when the document's last check ended more than the
throttle window ago (150 ms by default), else when the window ends: while typing,
the edits that arrive meanwhile are checked together, once.  A file's diagnostics
may come from checking another one: an error inside a library is published on the
library too, and on the spec at the call that leads into it.  When a file changes,
every open spec that imports it is checked again, whether the change came from its
buffer or from the disk.

Each editor feature lives in its own module (hover, inlay hints, navigation,
completion, outline, formatting) and registers itself on the server.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from cnndsl import __version__
from cnndsl.elaborate.program import read_spec
from cnndsl.errors import Diagnostic, SpecError
from cnndsl.limits import SPEC_BYTES
from cnndsl.lsp.analysis import Checked, check
from cnndsl.lsp.convert import Converter, path_of, uri_of


@dataclass
class Settings:
    """What a client may set in initializationOptions or in the `cnndsl` section of
    workspace/didChangeConfiguration."""

    inlay_hints: bool = True  # output shapes at the end of layer and block-call lines
    throttle_ms: float = 150.0  # while typing: at most one check per window per document

    def update(self, options) -> None:
        if not isinstance(options, dict):
            return
        options = options.get("cnndsl", options)
        if isinstance(options.get("inlayHints"), bool):
            self.inlay_hints = options["inlayHints"]
        if isinstance(options.get("throttleMs"), (int, float)) and options["throttleMs"] >= 0:
            self.throttle_ms = float(options["throttleMs"])


class CnnLanguageServer(LanguageServer):
    def __init__(self):
        super().__init__("cnndsl", __version__,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.settings = Settings()
        self.checked: dict[str, Checked] = {}  # uri -> latest check of an open document
        self.versions: dict[str, int | None] = {}  # uri -> document version checked
        # diagnostics each check published, by the uri they were published on
        self.published: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self._pending: dict[str, asyncio.Task] = {}
        self._last_check: dict[str, float] = {}  # uri -> when its last check ended
        self._stale: set[str] = set()  # documents whose imports changed since their check
        self._announced: dict[str, str | None] = {}  # uri -> text its importers have seen

    # ---- reading files: open buffers before the disk ----
    def read(self, path: str, budget: int | None = None) -> str:
        for doc in self.workspace.text_documents.values():
            if path_of(doc.uri) == path:
                size = len(doc.source.encode("utf-8"))
                if budget is not None and size > budget:  # as read_spec refuses a file
                    raise SpecError(f"{path} is too large for a spec: "
                                    f"{SPEC_BYTES.message(SPEC_BYTES.value() - budget + size)}",
                                    hint=SPEC_BYTES.hint())
                return doc.source
        return read_spec(path, budget)

    def converter(self, checked: Checked) -> Converter:
        return Converter(self.workspace.position_codec, checked.texts)

    # ---- checking ----
    def fresh(self, uri: str) -> Checked:
        """The check of the document as it is now (checked again if it changed)."""
        if self._outdated(uri):
            self.check_now(uri)
        return self.checked[uri]

    def _outdated(self, uri: str) -> bool:
        doc = self.workspace.get_text_document(uri)
        return uri in self._stale or uri not in self.checked or \
            self.versions.get(uri) != doc.version or self.checked[uri].text != doc.source

    def context(self, uri: str) -> Checked:
        """The check whose network explains this document: its own, or for a library
        that builds no network, that of an open spec importing it."""
        checked = self.fresh(uri)
        if checked.graph is not None:
            return checked
        key = _key(checked.path)
        for other_uri, other in self.checked.items():
            if other_uri != uri and other.graph is not None and key in other.program.files:
                return other
        return checked

    def check_now(self, uri: str) -> Checked:
        doc = self.workspace.get_text_document(uri)
        self._stale.discard(uri)
        checked = check(doc.source, path_of(uri), self.read)
        self.checked[uri], self.versions[uri] = checked, doc.version
        self.publish(uri, checked, doc.version)
        self._last_check[uri] = time.perf_counter()
        return checked

    def schedule(self, uri: str) -> None:
        """Check soon: at once after a pause in typing, else when the window ends."""
        if uri not in self._pending:
            self._pending[uri] = asyncio.get_running_loop().create_task(self._check_later(uri))

    async def _check_later(self, uri: str) -> None:
        try:
            await asyncio.sleep(0)  # edits already waiting are applied first
            end = self._last_check.get(uri, float("-inf"))
            wait = end + self.settings.throttle_ms / 1000 - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        finally:
            self._pending.pop(uri, None)
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return
        if self._outdated(uri):  # (a request may have checked this version already)
            self.check_now(uri)
        if self._announced.get(uri) != doc.source:  # (not for a mere re-check: imports
            self.check_dependents(uri)              # may form a cycle)

    def check_dependents(self, uri: str) -> None:
        """Check again every open spec that imports this file."""
        doc = self.workspace.text_documents.get(uri)
        self._announced[uri] = doc.source if doc is not None else None
        key = _key(path_of(uri))
        for other_uri, other in list(self.checked.items()):
            if other_uri != uri and key in other.program.files[1:]:
                self._stale.add(other_uri)
                self.schedule(other_uri)

    def forget(self, uri: str) -> None:
        self.checked.pop(uri, None)
        self.versions.pop(uri, None)
        self._announced.pop(uri, None)
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self._publish_targets(uri, {})

    # ---- diagnostics ----
    def publish(self, uri: str, checked: Checked, version: int | None) -> None:
        convert = self.converter(checked)
        targets: dict[str, list[types.Diagnostic]] = {uri: []}
        for d in checked.diagnostics:
            path = d.span.path if d.span else checked.path
            if path == checked.path:
                targets[uri].append(convert.diagnostic(d))
                continue
            targets.setdefault(uri_of(path), []).append(convert.diagnostic(d))
            targets[uri].append(self._forwarded(convert, checked, d))
        self._publish_targets(uri, targets, version)

    @staticmethod
    def _forwarded(convert: Converter, checked: Checked, d: Diagnostic) -> types.Diagnostic:
        """A problem inside an imported file, shown on the spec at the call that leads
        to it (the outermost note here) or at the import that brings the file in."""
        here = [span for span, _ in d.notes if span.path == checked.path]
        at = here[-1] if here else next(
            (imp.span for imp in checked.module.imports), None)
        where = f"{Path(d.span.path).name}:{d.span.line}"
        shown = Diagnostic(d.severity, f"{d.message} (in {where})", d.span, d.hint, d.notes)
        return convert.diagnostic(shown, at=at, related=((d.span, d.message),))

    def _publish_targets(self, uri: str, targets: dict[str, list[types.Diagnostic]],
                         version: int | None = None) -> None:
        """Publish on every file this check touches: a file's list is the union of what
        each open document's check found in it."""
        previous = self.published.get(uri, {})
        self.published[uri] = targets
        for target in {*previous, *targets}:
            if target != uri and previous.get(target) == targets.get(target):
                continue
            merged = []  # (a library's error found by two open specs is shown once)
            for source in self.published.values():
                merged += [d for d in source.get(target, []) if d not in merged]
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=target, diagnostics=merged, version=version if target == uri else None))


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def create_server() -> CnnLanguageServer:
    from cnndsl.lsp import completion, documents, formatting, hover, inlay, navigation, outline
    server = CnnLanguageServer()
    for feature in (documents, hover, inlay, navigation, completion, outline, formatting):
        feature.register(server)
    return server


def main() -> None:
    server = create_server()
    gc.freeze()  # what is loaded by now lives as long as the server: never scan it again
    server.start_io()

"""Document sync and settings: check on open and on every change, re-check importers
when a library changes (in a buffer or on disk), settings and the inlay-hint toggle."""

from __future__ import annotations

from lsprotocol import types


def register(server) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls, params: types.InitializeParams):
        ls.settings.update(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls, params: types.InitializedParams):
        watched = ls.client_capabilities.workspace and \
            ls.client_capabilities.workspace.did_change_watched_files
        if watched and watched.dynamic_registration:
            ls.client_register_capability(types.RegistrationParams(registrations=[
                types.Registration(
                    id="cnndsl-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=types.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[types.FileSystemWatcher(glob_pattern="**/*.cnn")]))]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams):
        uri = params.text_document.uri
        ls.check_now(uri)
        ls.check_dependents(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams):
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams):
        uri = params.text_document.uri
        ls.forget(uri)
        ls.check_dependents(uri)  # they read the file from the disk again

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls, params: types.DidChangeWatchedFilesParams):
        for change in params.changes:
            if change.uri not in ls.workspace.text_documents:  # an open buffer wins
                ls.check_dependents(change.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls, params: types.DidChangeConfigurationParams):
        before = ls.settings.inlay_hints
        ls.settings.update(params.settings)
        if ls.settings.inlay_hints != before:
            refresh_inlay_hints(ls)

    @server.command(TOGGLE)
    def toggle_inlay_hints(ls, *args):
        ls.settings.inlay_hints = not ls.settings.inlay_hints
        refresh_inlay_hints(ls)
        return ls.settings.inlay_hints


TOGGLE = "cnndsl.toggleInlayHints"


def refresh_inlay_hints(ls) -> None:
    workspace = ls.client_capabilities.workspace
    if workspace and workspace.inlay_hint and workspace.inlay_hint.refresh_support:
        ls.workspace_inlay_hint_refresh(None)


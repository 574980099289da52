// The cnndsl extension: syntax highlighting (syntaxes/cnn.tmLanguage.json) and a
// client for `cnndsl lsp`, which does everything else (diagnostics, shapes,
// completion, go to definition, formatting).
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function settings() {
  const config = vscode.workspace.getConfiguration("cnndsl");
  return {
    command: config.get("server.command", ["cnndsl", "lsp"]),
    inlayHints: config.get("inlayHints", true),
    throttleMs: config.get("throttleMs", 150),
  };
}

async function start(context) {
  const { command, inlayHints, throttleMs } = settings();
  const [program, ...args] = command;
  client = new LanguageClient(
    "cnndsl",
    "cnndsl",
    { command: program, args },
    {
      documentSelector: [{ language: "cnn" }],
      initializationOptions: { inlayHints, throttleMs },
      synchronize: {
        configurationSection: "cnndsl",
        fileEvents: vscode.workspace.createFileSystemWatcher("**/*.cnn"),
      },
    }
  );
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("cnndsl.restartServer", async () => {
      if (client) {
        await client.stop();
      }
      await start(context);
    })
  );
  await start(context);
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };

// Entry points: activate starts the language client, deactivate stops it (lsp-sample's shape).
import * as vscode from "vscode";

import { Stipple } from "./client";
import { registerCommands } from "./commands";

let stipple: Stipple | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<Stipple> {
  const instance = new Stipple(context.extensionPath);
  stipple = instance;
  context.subscriptions.push(
    instance,
    ...registerCommands(instance),
    vscode.workspace.onDidChangeConfiguration((event) => instance.onConfigurationChanged(event)),
  );
  await instance.start();
  return instance;
}

export async function deactivate(): Promise<void> {
  const instance = stipple;
  stipple = undefined;
  await instance?.stop();
}

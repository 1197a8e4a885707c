// The extension's commands. The edit-selection actions (issue 8) call workspace/executeCommand only when the
// server advertises them; until then they say so. Client command ids differ from the server's: the language
// client registers every command the server advertises under the server's own name.
import * as vscode from "vscode";

/** An edit-selection action: the VS Code command and the server command it calls. */
export interface EditAction {
  command: string;
  serverCommand: string;
  title: string;
  /** Ask for an instruction first (rewrite with instruction). */
  instruction?: boolean;
}

export const EDIT_ACTIONS: EditAction[] = [
  { command: "stipple.editor.regenerate", serverCommand: "stipple.regenerate", title: "Regenerate Selection" },
  { command: "stipple.editor.repair", serverCommand: "stipple.repair", title: "Repair Selection" },
  { command: "stipple.editor.rewrite", serverCommand: "stipple.rewrite", title: "Rewrite Selection", instruction: true },
];

/** What the commands need from the running extension. */
export interface CommandHost {
  showLog(): void;
  showStatus(): Promise<void>;
  restart(): Promise<void>;
  /** The commands the running server advertises (executeCommandProvider.commands); [] when not running. */
  serverCommands(): string[];
  executeCommand(command: string, args: unknown[]): Promise<unknown>;
}

export function registerCommands(host: CommandHost): vscode.Disposable[] {
  const disposables = [
    vscode.commands.registerCommand("stipple.showLog", () => host.showLog()),
    vscode.commands.registerCommand("stipple.showStatus", () => host.showStatus()),
    vscode.commands.registerCommand("stipple.restart", () => host.restart()),
  ];
  for (const action of EDIT_ACTIONS) {
    disposables.push(vscode.commands.registerCommand(action.command, () => runEditAction(host, action)));
  }
  return disposables;
}

export async function runEditAction(host: CommandHost, action: EditAction): Promise<unknown> {
  if (!host.serverCommands().includes(action.serverCommand)) {
    void vscode.window.showInformationMessage(`stipple: ${action.title} is not available yet (the server does not offer ${action.serverCommand}).`);
    return undefined;
  }
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage(`stipple: select the code to ${action.title.split(" ")[0].toLowerCase()} first.`);
    return undefined;
  }
  const { start, end } = editor.selection;
  const argument: Record<string, unknown> = {
    uri: editor.document.uri.toString(),
    range: { start: { line: start.line, character: start.character }, end: { line: end.line, character: end.character } },
  };
  if (action.instruction) {
    const instruction = await vscode.window.showInputBox({ prompt: "stipple: how should the selection change?" });
    if (instruction === undefined) {
      return undefined;
    }
    argument.instruction = instruction;
  }
  // The server applies its result with workspace/applyEdit (one undoable edit).
  return host.executeCommand(action.serverCommand, [argument]);
}

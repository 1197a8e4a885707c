// Where `stipple serve` comes from: the serverPath setting, the project's venv, or PATH.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface ServerCommand {
  command: string;
  args: string[];
}

export function venvStipple(root: string, platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? path.join(root, ".venv", "Scripts", "stipple.exe") : path.join(root, ".venv", "bin", "stipple");
}

/**
 * The server command. A configured path wins (`~` and `${workspaceFolder}` expanded); otherwise the first
 * `.venv/bin/stipple` under a workspace folder or the extension's repository (editors/vscode -> ../..);
 * otherwise `stipple` on PATH.
 */
export function resolveServerCommand(
  configured: string,
  workspaceFolders: string[],
  extensionPath: string,
  exists: (file: string) => boolean = fs.existsSync,
  platform: NodeJS.Platform = process.platform,
): ServerCommand {
  const args = ["serve"];
  const setting = configured.trim();
  if (setting !== "") {
    const folder = workspaceFolders[0] ?? "";
    const expanded = setting.replace(/^~(?=$|[\\/])/, os.homedir()).replace(/\$\{workspaceFolder\}/g, folder);
    return { command: expanded, args };
  }
  const roots = [...workspaceFolders, path.resolve(extensionPath, "..", "..")];
  const found = roots.map((root) => venvStipple(root, platform)).find((file) => exists(file));
  return { command: found ?? "stipple", args };
}

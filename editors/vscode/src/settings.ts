// The extension's settings: which ones go to the server, in the shape lsp_server/settings.py reads.
import type * as vscode from "vscode";

export const SECTION = "stipple";

/** The languages the server completes (languageIds); the document selector covers these. */
export const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "rust", "go"];

/** Settings the server reads from initializationOptions / didChangeConfiguration (camelCase, as in settings.py). */
export interface ServerSettings {
  model: string | null;
  device: string;
  dtype: string;
  steps: number;
  blockLength: number | null;
  strategy: string;
  threshold: number;
  reuseContext: boolean;
  maxSpanTokens: number;
  languages: Record<string, boolean>;
  debounceMs: number;
  logLevel: string;
}

/** Changing one of these needs a new server process; the rest are sent with didChangeConfiguration. */
export const RESTART_SETTINGS = ["serverPath"];

type ConfigurationReader = Pick<vscode.WorkspaceConfiguration, "get">;

/** The server's settings from the `stipple` configuration section; empty model means the embedded default. */
export function serverSettings(config: ConfigurationReader): ServerSettings {
  const model = config.get<string>("model", "").trim();
  return {
    model: model === "" ? null : model,
    device: config.get<string>("device", "auto"),
    dtype: config.get<string>("dtype", "auto"),
    steps: config.get<number>("steps", 32),
    blockLength: config.get<number | null>("blockLength", 1),
    strategy: config.get<string>("strategy", "confidence"),
    threshold: config.get<number>("threshold", 0.9),
    reuseContext: config.get<boolean>("reuseContext", true),
    maxSpanTokens: config.get<number>("maxSpanTokens", 64),
    languages: { ...config.get<Record<string, boolean>>("languages", {}) },
    debounceMs: config.get<number>("debounceMs", 30),
    logLevel: config.get<string>("logLevel", "info"),
  };
}

/** The payload of initializationOptions and of didChangeConfiguration's `settings`. */
export function settingsPayload(config: ConfigurationReader): { stipple: ServerSettings } {
  return { stipple: serverSettings(config) };
}

export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return RESTART_SETTINGS.some((name) => event.affectsConfiguration(`${SECTION}.${name}`));
}

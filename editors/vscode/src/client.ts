// Stipple: one LanguageClient around `stipple serve`, its settings flow and its status-bar item.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, Middleware, State } from "vscode-languageclient/node";

import { CommandHost } from "./commands";
import { resolveServerCommand, ServerCommand } from "./serverPath";
import { LANGUAGES, needsRestart, SECTION, serverSettings, settingsPayload } from "./settings";
import { StatusBar } from "./status";

/** Settings whose change makes the server reload the model (watched on the status bar). */
const RELOAD_SETTINGS = ["model", "device", "dtype"];

/** What stipple.status answers (lsp_server/commands.py). */
export interface ServerStatus {
  ready: boolean;
  model: string | null;
  error: string | null;
  counters?: Record<string, number>;
}

export class Stipple implements CommandHost, vscode.Disposable {
  client: LanguageClient | undefined;
  server: ServerCommand | undefined;
  readonly status: StatusBar;
  readonly output: vscode.LogOutputChannel;
  private watching: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly extensionPath: string, private readonly pollMs = 500) {
    this.output = vscode.window.createOutputChannel("stipple", { log: true });
    this.status = new StatusBar();
  }

  async start(): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
    this.server = resolveServerCommand(config.get<string>("serverPath", ""), folders, this.extensionPath);
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.flatMap((language) => [{ scheme: "file", language }, { scheme: "untitled", language }]),
      initializationOptions: settingsPayload(config),
      outputChannel: this.output,
      middleware: this.middleware(),
    };
    const client = new LanguageClient("stipple", "stipple", this.server, clientOptions);
    this.client = client;
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && !this.stopping && this.client === client) {
        this.status.error("the server stopped; see the log");
      }
    });
    this.stopping = false;
    this.status.loading("starting the server");
    try {
      await client.start();
    } catch (error) {
      this.status.error(`cannot start ${this.server.command}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.watchLoading();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unwatch();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined && client.isRunning()) {
      await client.stop();
    }
    this.status.stopped();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> | undefined {
    if (!event.affectsConfiguration(SECTION)) {
      return undefined;
    }
    if (needsRestart(event)) {
      return this.restart();
    }
    if (this.client?.isRunning()) {
      const settings = settingsPayload(vscode.workspace.getConfiguration(SECTION));
      void this.client.sendNotification("workspace/didChangeConfiguration", { settings });
      if (RELOAD_SETTINGS.some((name) => event.affectsConfiguration(`${SECTION}.${name}`))) {
        this.status.loading("reloading the model");
        this.watchLoading();
      }
    }
    return undefined;
  }

  /** Poll stipple.status until the model is loaded or failed; the status bar follows. */
  watchLoading(): void {
    this.unwatch();
    const tick = async (): Promise<void> => {
      this.watching = undefined;
      const client = this.client;
      if (client === undefined || !client.isRunning()) {
        return;
      }
      try {
        const status = (await this.executeCommand("stipple.status", [])) as ServerStatus;
        if (this.client !== client) {
          return;
        }
        if (status.error) {
          this.status.error(`cannot load the model: ${status.error}`);
        } else if (status.ready) {
          this.status.ready(undefined, status.model);
        } else {
          this.status.loading("loading the model");
          this.watching = setTimeout(tick, this.pollMs);
        }
      } catch (error) {
        this.status.error(`stipple.status failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    this.watching = setTimeout(tick, 0);
  }

  showLog(): void {
    this.output.show(true);
  }

  async showStatus(): Promise<void> {
    if (this.client === undefined || !this.client.isRunning()) {
      void vscode.window.showWarningMessage("stipple: the server is not running.");
      return;
    }
    const status = (await this.executeCommand("stipple.status", [])) as ServerStatus;
    this.output.appendLine(`stipple.status: ${JSON.stringify(status, null, 2)}`);
    const counters = Object.entries(status.counters ?? {}).map(([name, count]) => `${name} ${count}`).join(", ");
    const state = status.error ? `error: ${status.error}` : status.ready ? `ready (${status.model})` : "loading";
    void vscode.window.showInformationMessage(`stipple: ${state}${counters ? `; ${counters}` : ""}`);
  }

  serverCommands(): string[] {
    return this.client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  }

  executeCommand(command: string, args: unknown[]): Promise<unknown> {
    if (this.client === undefined) {
      return Promise.reject(new Error("the server is not running"));
    }
    return this.client.sendRequest("workspace/executeCommand", { command, arguments: args });
  }

  /** Times inline completions for the status bar; answers workspace/configuration with the server's settings. */
  middleware(): Middleware {
    return {
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const started = Date.now();
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : (result?.items ?? []);
        if (!token.isCancellationRequested && items.length > 0 && this.status.state === "ready") {
          this.status.ready(Date.now() - started);
        }
        return result;
      },
      workspace: {
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, index) =>
            params.items[index]?.section === SECTION ? serverSettings(vscode.workspace.getConfiguration(SECTION)) : value);
        },
      },
    };
  }

  private unwatch(): void {
    if (this.watching !== undefined) {
      clearTimeout(this.watching);
      this.watching = undefined;
    }
  }

  dispose(): void {
    this.unwatch();
    this.status.dispose();
    this.output.dispose();
  }
}

// The status-bar item: loading (with elapsed time and the server's progress message), ready (with the last
// completion's latency), error, stopped.
import * as vscode from "vscode";

export type StatusState = "stopped" | "loading" | "ready" | "error";

export class StatusBar implements vscode.Disposable {
  state: StatusState = "stopped";
  lastLatencyMs: number | undefined;
  private readonly item: vscode.StatusBarItem;
  private loadingSince = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.item = vscode.window.createStatusBarItem("stipple.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "stipple";
    this.stopped();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  get tooltip(): string {
    return String(this.item.tooltip ?? "");
  }

  loading(message?: string): void {
    if (this.state !== "loading") {
      this.loadingSince = this.now();
    }
    this.state = "loading";
    const seconds = Math.round((this.now() - this.loadingSince) / 1000);
    this.item.text = `$(loading~spin) stipple ${seconds}s`;
    this.item.tooltip = `stipple: ${message ?? "loading the model"}`;
    this.item.command = "stipple.showLog";
    this.item.backgroundColor = undefined;
  }

  ready(latencyMs?: number, model?: string | null): void {
    this.state = "ready";
    if (latencyMs !== undefined) {
      this.lastLatencyMs = latencyMs;
    }
    const latency = this.lastLatencyMs === undefined ? "" : ` ${Math.round(this.lastLatencyMs)} ms`;
    this.item.text = `$(check) stipple${latency}`;
    if (model !== undefined || this.tooltip === "" || this.tooltip.startsWith("stipple: loading")) {
      this.item.tooltip = `stipple: ready (${model ?? "embedded default model"})`;
    }
    this.item.command = "stipple.showStatus";
    this.item.backgroundColor = undefined;
  }

  error(message: string): void {
    this.state = "error";
    this.item.text = "$(error) stipple";
    this.item.tooltip = `stipple: ${message}`;
    this.item.command = "stipple.showLog";
    this.item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
  }

  stopped(): void {
    this.state = "stopped";
    this.item.text = "$(circle-slash) stipple";
    this.item.tooltip = "stipple: server not running";
    this.item.command = "stipple.restart";
    this.item.backgroundColor = undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

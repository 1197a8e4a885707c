// Unit tests with the mocked vscode module: command registration, settings flow, status transitions.
import { changeSettings, FakeLanguageClient, recorded, reset, settle } from "./mocks"; // first: hooks `vscode`

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";

import type { Stipple } from "../client";
import { EDIT_ACTIONS } from "../commands";
import * as extension from "../extension";
import { resolveServerCommand, venvStipple } from "../serverPath";
import { serverSettings } from "../settings";

const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
const context = () => ({ extensionPath: "/nowhere/editors/vscode", subscriptions: [] as { dispose(): void }[] });

function client(index = -1): FakeLanguageClient {
  const instance = FakeLanguageClient.instances.at(index);
  assert.ok(instance, "no LanguageClient was created");
  return instance;
}

function statusItem() {
  assert.equal(recorded.statusItems.length, 1);
  return recorded.statusItems[0];
}

const configNotifications = () => client().notifications.filter((n) => n.method === "workspace/didChangeConfiguration");

describe("activate", () => {
  beforeEach(reset);
  afterEach(() => extension.deactivate());

  it("registers every contributed command and no server command", async () => {
    await extension.activate(context() as never);
    const contributed = PACKAGE.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual([...recorded.commands.keys()].sort(), contributed);
    for (const serverCommand of ["stipple.status", "stipple.accept", "stipple.reject"]) {
      assert.ok(!recorded.commands.has(serverCommand), `${serverCommand} is the language client's to register`);
    }
    for (const action of EDIT_ACTIONS) {
      assert.ok(recorded.commands.has(action.command));
    }
  });

  it("starts `stipple serve` with the settings as initializationOptions", async () => {
    recorded.settings = { "stipple.steps": 8, "stipple.model": "", "stipple.device": "cpu", "stipple.debounceMs": 50 };
    await extension.activate(context() as never);
    assert.equal(FakeLanguageClient.instances.length, 1);
    assert.deepEqual(client().serverOptions, { command: "stipple", args: ["serve"] });
    const options = client().clientOptions;
    assert.deepEqual(options.initializationOptions, {
      stipple: { model: null, device: "cpu", dtype: "auto", steps: 8, blockLength: 1, strategy: "confidence", threshold: 0.9, reuseContext: true, maxSpanTokens: 64, languages: {}, debounceMs: 50, logLevel: "info" },
    });
    const languages = options.documentSelector.map((s: { language: string }) => s.language);
    for (const language of ["python", "typescriptreact", "rust", "go"]) {
      assert.ok(languages.includes(language), language);
    }
  });

  it("documents every server setting in contributes.configuration", () => {
    const properties = PACKAGE.contributes.configuration.properties;
    for (const key of Object.keys(serverSettings({ get: (_k: string, fallback?: unknown) => fallback } as never))) {
      assert.ok(`stipple.${key}` in properties, `stipple.${key} is not in package.json`);
    }
    for (const key of ["model", "device", "dtype", "steps", "languages", "debounceMs", "logLevel", "serverPath"]) {
      assert.ok(properties[`stipple.${key}`].markdownDescription, `stipple.${key} has no description`);
    }
  });
});

describe("settings flow", () => {
  beforeEach(reset);
  afterEach(() => extension.deactivate());

  it("sends didChangeConfiguration with the whole server section", async () => {
    await extension.activate(context() as never);
    await changeSettings({ "stipple.steps": 4, "stipple.languages": { go: false }, "stipple.model": "/models/m" });
    const sent = configNotifications();
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].params.settings.stipple, {
      model: "/models/m", device: "auto", dtype: "auto", steps: 4, blockLength: 1, strategy: "confidence", threshold: 0.9, reuseContext: true, maxSpanTokens: 64, languages: { go: false }, debounceMs: 30, logLevel: "info",
    });
    assert.equal(FakeLanguageClient.instances.length, 1, "a plain setting must not restart the server");
  });

  it("ignores other sections and restarts on serverPath", async () => {
    await extension.activate(context() as never);
    await changeSettings({ "editor.fontSize": 20 });
    assert.equal(configNotifications().length, 0);
    await changeSettings({ "stipple.serverPath": "/opt/stipple/bin/stipple" });
    assert.equal(FakeLanguageClient.instances.length, 2);
    assert.equal(client(0).running, false);
    assert.deepEqual(client().serverOptions, { command: "/opt/stipple/bin/stipple", args: ["serve"] });
  });

  it("answers workspace/configuration for the stipple section with server settings only", async () => {
    recorded.settings = { "stipple.serverPath": "/x/stipple", "stipple.steps": 12 };
    await extension.activate(context() as never);
    const middleware = client().clientOptions.middleware;
    const params = { items: [{ section: "stipple" }, { section: "editor" }] };
    const result = await middleware.workspace.configuration(params, {}, async () => [{ serverPath: "/x/stipple" }, { tabSize: 4 }]);
    assert.equal(result[0].steps, 12);
    assert.equal(result[0].model, null);
    assert.ok(!("serverPath" in result[0]));
    assert.deepEqual(result[1], { tabSize: 4 });
  });
});

describe("server path", () => {
  it("prefers the setting, then a venv in a workspace folder, then the extension's repository, then PATH", () => {
    const none = () => false;
    assert.equal(resolveServerCommand("/a/stipple", ["/ws"], "/repo/editors/vscode", none).command, "/a/stipple");
    assert.equal(resolveServerCommand("${workspaceFolder}/bin/st", ["/ws"], "/r/editors/vscode", none).command, "/ws/bin/st");
    const venvs = new Set([venvStipple("/ws2", "linux"), venvStipple("/repo", "linux")]);
    const exists = (file: string) => venvs.has(file);
    assert.equal(resolveServerCommand("", ["/ws1", "/ws2"], "/repo/editors/vscode", exists, "linux").command, venvStipple("/ws2", "linux"));
    assert.equal(resolveServerCommand("", ["/ws1"], "/repo/editors/vscode", exists, "linux").command, venvStipple("/repo", "linux"));
    assert.deepEqual(resolveServerCommand("", [], "/else/editors/vscode", exists, "linux"), { command: "stipple", args: ["serve"] });
    assert.match(venvStipple("C:\\p", "win32"), /Scripts.stipple\.exe$/);
  });
});

describe("status bar", () => {
  beforeEach(reset);
  afterEach(() => extension.deactivate());

  async function activateWith(replies: object[]): Promise<Stipple> {
    FakeLanguageClient.statusReplies = replies;
    const instance = await extension.activate(context() as never);
    (instance as unknown as { pollMs: number }).pollMs = 1;
    return instance;
  }

  it("goes from loading to ready when stipple.status says so", async () => {
    const instance = await activateWith([
      { ready: false, model: null, error: null },
      { ready: false, model: null, error: null },
      { ready: true, model: "/models/tiny", error: null },
    ]);
    assert.equal(instance.status.state, "loading");
    assert.match(statusItem().text, /loading/);
    for (let i = 0; i < 50 && instance.status.state === "loading"; i++) {
      await settle(2);
    }
    assert.equal(instance.status.state, "ready");
    assert.match(statusItem().tooltip ?? "", /\/models\/tiny/);
    assert.ok(statusItem().visible);
  });

  it("shows the last completion latency when ready", async () => {
    const instance = await activateWith([]);
    await settle();
    assert.equal(instance.status.state, "ready");
    const middleware = client().clientOptions.middleware;
    const token = { isCancellationRequested: false };
    const items = [{ insertText: "x" }];
    const result = await middleware.provideInlineCompletionItems({}, {}, {}, token,
      () => new Promise((resolve) => setTimeout(() => resolve(items), 20)));
    assert.equal(result, items);
    assert.ok((instance.status.lastLatencyMs ?? 0) >= 15);
    assert.match(statusItem().text, /\d+ ms/);
    const before = instance.status.lastLatencyMs;
    await middleware.provideInlineCompletionItems({}, {}, {}, token, async () => ({ items: [] }));
    assert.equal(instance.status.lastLatencyMs, before, "an empty answer is not a latency sample");
  });

  it("shows an error when the model fails, the server dies, or cannot start", async () => {
    let instance = await activateWith([{ ready: false, model: null, error: "no such directory" }]);
    await settle();
    assert.equal(instance.status.state, "error");
    assert.match(statusItem().tooltip ?? "", /no such directory/);
    await extension.deactivate();
    assert.equal(instance.status.state, "stopped");

    reset();
    instance = await activateWith([]);
    await settle();
    assert.equal(instance.status.state, "ready");
    client().crash();
    assert.equal(instance.status.state, "error");
    await extension.deactivate();

    reset();
    FakeLanguageClient.failStart = new Error("spawn stipple ENOENT");
    instance = await activateWith([]);
    assert.equal(instance.status.state, "error");
    assert.match(statusItem().tooltip ?? "", /ENOENT/);
  });

  it("shows loading again while a model change reloads", async () => {
    const instance = await activateWith([]);
    await settle();
    assert.equal(instance.status.state, "ready");
    FakeLanguageClient.statusReplies = [{ ready: false, model: null, error: null }, { ready: true, model: "/m2", error: null }];
    await changeSettings({ "stipple.model": "/m2" });
    assert.equal(instance.status.state, "loading");
    for (let i = 0; i < 50 && instance.status.state === "loading"; i++) {
      await settle(2);
    }
    assert.equal(instance.status.state, "ready");
  });
});

describe("commands", () => {
  beforeEach(reset);
  afterEach(() => extension.deactivate());

  const selection = {
    isEmpty: false, start: { line: 1, character: 0 }, end: { line: 2, character: 4 },
  };
  const editor = { selection, document: { uri: { toString: () => "file:///w/a.py" } } };

  it("edit actions say 'not available yet' unless the server advertises them", async () => {
    await extension.activate(context() as never);
    recorded.activeTextEditor = editor;
    await recorded.commands.get("stipple.editor.repair")!();
    assert.match(recorded.messages.at(-1) ?? "", /not available yet/);
    assert.ok(!client().requests.some((r) => r.params.command === "stipple.repair"));
  });

  it("edit actions call workspace/executeCommand with the selection when advertised", async () => {
    FakeLanguageClient.advertised = ["stipple.status", "stipple.repair", "stipple.rewrite"];
    await extension.activate(context() as never);
    recorded.activeTextEditor = editor;
    await recorded.commands.get("stipple.editor.repair")!();
    const request = client().requests.find((r) => r.params.command === "stipple.repair");
    assert.ok(request);
    assert.equal(request.method, "workspace/executeCommand");
    assert.deepEqual(request.params.arguments, [{ uri: "file:///w/a.py", range: { start: selection.start, end: selection.end } }]);

    recorded.inputBoxReply = "use a list comprehension";
    await recorded.commands.get("stipple.editor.rewrite")!();
    const rewrite = client().requests.find((r) => r.params.command === "stipple.rewrite");
    assert.equal(rewrite?.params.arguments[0].instruction, "use a list comprehension");
  });

  it("show log, status and restart", async () => {
    await extension.activate(context() as never);
    await settle();
    await recorded.commands.get("stipple.showLog")!();
    assert.equal(recorded.outputShown, 1);
    await recorded.commands.get("stipple.showStatus")!();
    assert.match(recorded.messages.at(-1) ?? "", /ready \(stipple-tiny\)/);
    await recorded.commands.get("stipple.restart")!();
    assert.equal(FakeLanguageClient.instances.length, 2);
    assert.equal(client(0).running, false);
    assert.equal(client().running, true);
  });
});

// A mocked `vscode` module and a fake `vscode-languageclient/node` (VS Code itself cannot run here). Import this
// file before anything that imports vscode: it hooks Node's module loader for those two names.
/* eslint-disable @typescript-eslint/no-explicit-any */
import Module = require("module");

type Listener = (value: any) => unknown;

export interface FakeStatusBarItem {
  text: string;
  tooltip: string | undefined;
  command: string | undefined;
  backgroundColor: unknown;
  name: string;
  visible: boolean;
}

/** Everything the mock records, reset by reset(). */
export const recorded = {
  commands: new Map<string, (...args: any[]) => unknown>(),
  messages: [] as string[],
  statusItems: [] as FakeStatusBarItem[],
  outputShown: 0,
  configListeners: [] as Listener[],
  settings: {} as Record<string, unknown>,
  inputBoxReply: undefined as string | undefined,
  activeTextEditor: undefined as any,
};

class ThemeColor {
  constructor(readonly id: string) {}
}

export const vscode = {
  StatusBarAlignment: { Left: 1, Right: 2 },
  ThemeColor,
  window: {
    createStatusBarItem(_id: string, _alignment: number, _priority: number) {
      const item = {
        text: "", tooltip: undefined, command: undefined, backgroundColor: undefined, name: "", visible: false,
        show() { item.visible = true; },
        hide() { item.visible = false; },
        dispose() { item.visible = false; },
      };
      recorded.statusItems.push(item);
      return item;
    },
    createOutputChannel(_name: string, _options?: object) {
      return { appendLine() {}, append() {}, show() { recorded.outputShown += 1; }, dispose() {} };
    },
    showInformationMessage(message: string) { recorded.messages.push(message); return Promise.resolve(undefined); },
    showWarningMessage(message: string) { recorded.messages.push(message); return Promise.resolve(undefined); },
    showInputBox() { return Promise.resolve(recorded.inputBoxReply); },
    get activeTextEditor() { return recorded.activeTextEditor; },
  },
  commands: {
    registerCommand(id: string, callback: (...args: any[]) => unknown) {
      if (recorded.commands.has(id)) {
        throw new Error(`command '${id}' already exists`);
      }
      recorded.commands.set(id, callback);
      return { dispose() { recorded.commands.delete(id); } };
    },
  },
  workspace: {
    workspaceFolders: undefined as any,
    getConfiguration(section: string) {
      return {
        get<T>(key: string, fallback?: T): T | undefined {
          const full = `${section}.${key}`;
          return full in recorded.settings ? (recorded.settings[full] as T) : fallback;
        },
      };
    },
    onDidChangeConfiguration(listener: Listener) {
      recorded.configListeners.push(listener);
      return { dispose() { recorded.configListeners.splice(recorded.configListeners.indexOf(listener), 1); } };
    },
  },
};

/** Change settings and fire onDidChangeConfiguration as VS Code would; resolves when the listeners have run. */
export async function changeSettings(values: Record<string, unknown>): Promise<void> {
  Object.assign(recorded.settings, values);
  const changed = Object.keys(values);
  const event = { affectsConfiguration: (name: string) => changed.some((key) => key === name || key.startsWith(`${name}.`)) };
  await Promise.all(recorded.configListeners.map((listener) => listener(event)));
}

export const State = { Stopped: 1, Running: 2, Starting: 3 };

/** The fake LanguageClient: records what the extension sends; `replies` answers workspace/executeCommand. */
export class FakeLanguageClient {
  static instances: FakeLanguageClient[] = [];
  static advertised: string[] = ["stipple.status", "stipple.accept", "stipple.reject"];
  static statusReplies: object[] = [];
  static failStart: Error | undefined;

  notifications: { method: string; params: any }[] = [];
  requests: { method: string; params: any }[] = [];
  running = false;
  initializeResult: any;
  private stateListeners: Listener[] = [];

  constructor(readonly id: string, readonly name: string, readonly serverOptions: any, readonly clientOptions: any) {
    FakeLanguageClient.instances.push(this);
  }

  async start(): Promise<void> {
    if (FakeLanguageClient.failStart) {
      throw FakeLanguageClient.failStart;
    }
    this.running = true;
    this.initializeResult = { capabilities: { executeCommandProvider: { commands: [...FakeLanguageClient.advertised] } } };
    this.stateListeners.forEach((listener) => listener({ oldState: State.Starting, newState: State.Running }));
  }

  async stop(): Promise<void> {
    this.crash();
  }

  /** The server process went away. */
  crash(): void {
    this.running = false;
    this.stateListeners.forEach((listener) => listener({ oldState: State.Running, newState: State.Stopped }));
  }

  isRunning(): boolean {
    return this.running;
  }

  onDidChangeState(listener: Listener) {
    this.stateListeners.push(listener);
    return { dispose() {} };
  }

  sendNotification(method: string, params: any): Promise<void> {
    this.notifications.push({ method, params });
    return Promise.resolve();
  }

  sendRequest(method: string, params: any): Promise<unknown> {
    this.requests.push({ method, params });
    if (method === "workspace/executeCommand" && params.command === "stipple.status") {
      const reply = FakeLanguageClient.statusReplies.length > 1
        ? FakeLanguageClient.statusReplies.shift()
        : FakeLanguageClient.statusReplies[0];
      return Promise.resolve(reply ?? { ready: true, model: "stipple-tiny", error: null });
    }
    return Promise.resolve(null);
  }
}

export function reset(): void {
  recorded.commands.clear();
  recorded.messages = [];
  recorded.statusItems = [];
  recorded.outputShown = 0;
  recorded.configListeners = [];
  recorded.settings = {};
  recorded.inputBoxReply = undefined;
  recorded.activeTextEditor = undefined;
  vscode.workspace.workspaceFolders = undefined;
  FakeLanguageClient.instances = [];
  FakeLanguageClient.advertised = ["stipple.status", "stipple.accept", "stipple.reject"];
  FakeLanguageClient.statusReplies = [];
  FakeLanguageClient.failStart = undefined;
}

const fakeLanguageClient = { LanguageClient: FakeLanguageClient, State };
const moduleWithLoad = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = moduleWithLoad._load;
moduleWithLoad._load = function (request: string, ...rest: unknown[]) {
  if (request === "vscode") {
    return vscode;
  }
  if (request === "vscode-languageclient/node") {
    return fakeLanguageClient;
  }
  return load.call(this, request, ...rest);
};

/** Let pending timers and promise callbacks run. */
export function settle(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

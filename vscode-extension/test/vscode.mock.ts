// The slice of the `vscode` API the extension uses, recording what it was asked to do.
import { vi } from 'vitest';

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
    readonly query = '',
  ) {}

  static file(fsPath: string): Uri {
    return new Uri('file', fsPath);
  }

  static parse(value: string): Uri {
    const url = new URL(value);
    return new Uri(url.protocol.replace(/:$/, ''), decodeURIComponent(url.pathname), url.search.replace(/^\?/, ''));
  }

  static from(parts: { scheme: string; path: string; query?: string }): Uri {
    return new Uri(parts.scheme, parts.path, parts.query);
  }

  get fsPath(): string {
    return this.path;
  }

  toString(): string {
    return `${this.scheme}://${encodeURI(this.path)}${this.query ? `?${this.query}` : ''}`;
  }
}

export class EventEmitter<T> {
  private listeners: ((value: T) => void)[] = [];
  readonly event = (listener: (value: T) => void): { dispose(): void } => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    this.listeners.forEach((listener) => {
      listener(value);
    });
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationTokenSource {
  private readonly cancelled = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.cancelled.event };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.cancelled.fire();
  }
  dispose(): void {
    this.cancelled.dispose();
  }
}

export class MarkdownString {
  constructor(readonly value: string) {}
}

export class Disposable {
  constructor(private readonly callOnDispose: () => void) {}
  dispose(): void {
    this.callOnDispose();
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
}

export interface FakeStatusBarItem {
  id: string;
  text: string;
  name?: string;
  command?: string;
  tooltip?: MarkdownString;
  accessibilityInformation?: { label: string; role?: string };
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

export const statusBarItems: FakeStatusBarItem[] = [];
const activeEditorChanged = new EventEmitter<unknown>();
const configurationChanged = new EventEmitter<unknown>();

/** Settings the fake workspace.getConfiguration answers with, keyed "section.name". */
export const configuration = new Map<string, unknown>();

export const window = {
  activeTextEditor: undefined as
    { document: { uri: Uri; languageId: string; isDirty?: boolean; save?: () => Promise<boolean> } } | undefined,
  createStatusBarItem: vi.fn((id: string): FakeStatusBarItem => {
    const item: FakeStatusBarItem = {
      id,
      text: '',
      visible: false,
      show() {
        item.visible = true;
      },
      hide() {
        item.visible = false;
      },
      dispose() {
        item.visible = false;
      },
    };
    statusBarItems.push(item);
    return item;
  }),
  onDidChangeActiveTextEditor: activeEditorChanged.event,
  showInformationMessage: vi.fn((..._args: unknown[]): Promise<string | undefined> => Promise.resolve(undefined)),
  showWarningMessage: vi.fn((..._args: unknown[]): Promise<string | undefined> => Promise.resolve(undefined)),
  showErrorMessage: vi.fn((..._args: unknown[]): Promise<string | undefined> => Promise.resolve(undefined)),
  showQuickPick: vi.fn((..._args: unknown[]): Promise<unknown> => Promise.resolve(undefined)),
  showTextDocument: vi.fn((..._args: unknown[]): Promise<unknown> => Promise.resolve(undefined)),
  withProgress: vi.fn(
    async (
      _options: unknown,
      task: (progress: { report(value: unknown): void }, token: CancellationTokenSource['token']) => Promise<unknown>,
    ): Promise<unknown> => task({ report: () => undefined }, new CancellationTokenSource().token),
  ),
};

export function setActiveEditor(uri: Uri | undefined, languageId = 'python'): void {
  window.activeTextEditor = uri ? { document: { uri, languageId } } : undefined;
  activeEditorChanged.fire(window.activeTextEditor);
}

export const workspace = {
  workspaceFolders: undefined as { uri: Uri; name: string; index: number }[] | undefined,
  textDocuments: [] as { uri: Uri; isDirty: boolean; save(): Promise<boolean> }[],
  getConfiguration: vi.fn((section: string) => ({
    get: <T>(key: string, fallback?: T): T | undefined => {
      const full = `${section}.${key}`;
      return configuration.has(full) ? (configuration.get(full) as T) : fallback;
    },
  })),
  getWorkspaceFolder: vi.fn((_uri: Uri) => workspace.workspaceFolders?.[0]),
  findFiles: vi.fn((..._args: unknown[]): Promise<Uri[]> => Promise.resolve([])),
  asRelativePath: vi.fn((uri: Uri) => uri.fsPath.replace(/^\/ws\//, '')),
  openTextDocument: vi.fn((uri: Uri) => Promise.resolve({ uri })),
  onDidChangeConfiguration: configurationChanged.event,
  registerTextDocumentContentProvider: vi.fn(() => new Disposable(() => undefined)),
};

export const commands = {
  registered: new Map<string, (...args: unknown[]) => unknown>(),
  registerCommand: vi.fn((id: string, handler: (...args: unknown[]) => unknown) => {
    commands.registered.set(id, handler);
    return new Disposable(() => commands.registered.delete(id));
  }),
  executeCommand: vi.fn((..._args: unknown[]): Promise<unknown> => Promise.resolve(undefined)),
};

export const extensions = {
  getExtension: vi.fn((_id: string): unknown => undefined),
};

/** Back to a clean slate between tests. */
export function resetMock(): void {
  statusBarItems.length = 0;
  configuration.clear();
  commands.registered.clear();
  window.activeTextEditor = undefined;
  workspace.workspaceFolders = undefined;
  workspace.textDocuments = [];
}

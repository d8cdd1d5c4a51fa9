import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseAction, ErrorAction, LanguageClient } from 'vscode-languageclient/node';
import { CRASH_WINDOW_MS, Daemon, RestartOnceHandler, serverOptions } from '../src/client';
import { checkTorch, probeInterpreter } from '../src/python';
import type { EvaluatingNotification, ResultNotification } from '../src/result';
import { correctTimed } from './fixtures';
import { CancellationTokenSource, configuration, resetMock, Uri, window, workspace } from './vscode.mock';

// The real LanguageClient spawns a process; this one records how the daemon drives it.
vi.mock('vscode-languageclient/node', () => {
  class FakeLanguageClient {
    static created: FakeLanguageClient[] = [];
    state = 1;
    handlers = new Map<string, (params: unknown) => void>();
    stateListeners: ((change: { oldState: number; newState: number }) => void)[] = [];
    start = vi.fn(async () => {
      this.state = 2;
      this.stateListeners.forEach((listener) => {
        listener({ oldState: 3, newState: 2 });
      });
      return Promise.resolve();
    });
    dispose = vi.fn(async () => {
      this.state = 1;
      return Promise.resolve();
    });
    sendRequest = vi.fn(async (..._args: unknown[]): Promise<unknown> => Promise.resolve(null));
    constructor(
      readonly id: string,
      readonly name: string,
      readonly serverOptions: unknown,
      readonly clientOptions: Record<string, unknown>,
    ) {
      FakeLanguageClient.created.push(this);
    }
    onNotification(method: string, handler: (params: unknown) => void) {
      this.handlers.set(method, handler);
      return { dispose: () => undefined };
    }
    onDidChangeState(listener: (change: { oldState: number; newState: number }) => void) {
      this.stateListeners.push(listener);
      return { dispose: () => undefined };
    }
  }
  return {
    CloseAction: { DoNotRestart: 1, Restart: 2 },
    ErrorAction: { Continue: 1, Shutdown: 2 },
    State: { Stopped: 1, Running: 2, Starting: 3 },
    RevealOutputChannelOn: { Never: 4 },
    ExecuteCommandRequest: { type: { method: 'workspace/executeCommand' } },
    LanguageClient: FakeLanguageClient,
  };
});

vi.mock('@vscode/python-extension', () => ({ PythonExtension: { api: vi.fn() } }));

vi.mock('../src/python', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/python')>()),
  probeInterpreter: vi.fn(),
  checkTorch: vi.fn(),
}));

interface FakeClient {
  id: string;
  serverOptions: { command: string; args: string[] };
  clientOptions: Record<string, unknown>;
  handlers: Map<string, (params: unknown) => void>;
  start: ReturnType<typeof vi.fn>;
  dispose: ReturnType<typeof vi.fn>;
  sendRequest: ReturnType<typeof vi.fn>;
}

const created = (LanguageClient as unknown as { created: FakeClient[] }).created;
const output = { info: vi.fn(), warn: vi.fn(), error: vi.fn(), debug: vi.fn(), show: vi.fn() };
const context = { asAbsolutePath: (p: string) => `/ext/${p}` };

function newDaemon(): Daemon {
  return new Daemon(context as never, output as never);
}

describe('Daemon', () => {
  beforeEach(() => {
    resetMock();
    created.length = 0;
    configuration.set('kernelEval.pythonPath', '/venv/bin/python');
    vi.mocked(probeInterpreter).mockResolvedValue({ ok: true, version: '3.11' });
    vi.mocked(checkTorch).mockResolvedValue(undefined);
  });

  it('starts the bundled server with the settings as initializationOptions', async () => {
    configuration.set('kernelEval.device', 'cuda:1');
    await newDaemon().restart();
    const client = created[0];
    expect(client?.id).toBe('kernelEval');
    expect(client?.serverOptions).toMatchObject({ command: '/venv/bin/python', args: ['/ext/bundled/tool/server.py'] });
    expect(client?.clientOptions).toMatchObject({
      documentSelector: [{ scheme: 'file', language: 'python' }],
      synchronize: { configurationSection: 'kernelEval' },
      initializationOptions: { kernelEval: { device: 'cuda:1', pythonPath: '/venv/bin/python' } },
    });
    expect(client?.start).toHaveBeenCalledOnce();
    expect(checkTorch).toHaveBeenCalledWith('/venv/bin/python');
  });

  it('says when torch is missing, and still starts', async () => {
    vi.mocked(checkTorch).mockResolvedValue('Kernel Eval: torch cannot be imported by /venv/bin/python');
    await newDaemon().restart();
    await vi.waitFor(() => {
      expect(window.showErrorMessage).toHaveBeenCalledWith(
        'Kernel Eval: torch cannot be imported by /venv/bin/python',
        'Open Settings',
        'Show Output',
      );
    });
    expect(created).toHaveLength(1);
  });

  it('does not start without a usable interpreter, and says why on use', async () => {
    vi.mocked(probeInterpreter).mockResolvedValue({ ok: false, message: 'Python interpreter not found: /x' });
    const daemon = newDaemon();
    await daemon.restart();
    expect(created).toHaveLength(0);
    expect(window.showErrorMessage).toHaveBeenCalledWith(
      'Python interpreter not found: /x',
      'Open Settings',
      'Show Output',
    );
    await expect(daemon.run({ customUri: 'file:///ws/k.py' }, new CancellationTokenSource().token)).rejects.toThrow(
      'not running: Python interpreter not found: /x',
    );
  });

  it('coalesces a burst of restarts: one runs, the rest share one more after it', async () => {
    let releaseProbe = (): void => undefined;
    vi.mocked(probeInterpreter).mockImplementationOnce(
      () =>
        new Promise((resolve) => {
          releaseProbe = () => {
            resolve({ ok: true, version: '3.11' });
          };
        }),
    );
    const daemon = newDaemon();
    const first = daemon.restart();
    await vi.waitFor(() => {
      expect(probeInterpreter).toHaveBeenCalledOnce();
    });
    const burst = [daemon.restart(), daemon.restart(), daemon.restart()];
    releaseProbe();
    await Promise.all([first, ...burst]);
    expect(created).toHaveLength(2);
    expect(created[0]?.dispose).toHaveBeenCalledOnce();
    expect(created[1]?.dispose).not.toHaveBeenCalled();
  });

  it('forwards kernelEval/result and kernelEval/evaluating, and fires onStarted', async () => {
    const daemon = newDaemon();
    const results: ResultNotification[] = [];
    const phases: EvaluatingNotification[] = [];
    const started = vi.fn();
    daemon.onResult((n) => results.push(n));
    daemon.onEvaluating((n) => phases.push(n));
    daemon.onStarted(started);
    await daemon.restart();
    expect(started).toHaveBeenCalledOnce();
    const client = created[0];
    client?.handlers.get('kernelEval/evaluating')?.({ uri: 'file:///ws/k.py', phase: 'build', message: 'ninja' });
    client?.handlers.get('kernelEval/result')?.({ uri: 'file:///ws/k.py', result: correctTimed() });
    expect(phases).toEqual([{ uri: 'file:///ws/k.py', phase: 'build', message: 'ninja' }]);
    expect(results[0]?.result.verdict).toBe('correct');
  });

  it('sends kernelEval/run with the cancellation token, and commands via workspace/executeCommand', async () => {
    const daemon = newDaemon();
    await daemon.restart();
    const token = new CancellationTokenSource().token;
    await daemon.run({ customUri: 'file:///ws/k.py' }, token);
    await daemon.executeCommand('kernelEval.clearCache', ['file:///ws/k.py']);
    expect(created[0]?.sendRequest.mock.calls).toEqual([
      ['kernelEval/run', { customUri: 'file:///ws/k.py' }, token],
      [{ method: 'workspace/executeCommand' }, { command: 'kernelEval.clearCache', arguments: ['file:///ws/k.py'] }],
    ]);
  });
});

describe('RestartOnceHandler', () => {
  it('restarts after the first crash, then gives up and tells the user', () => {
    let now = 0;
    const giveUp = vi.fn();
    const handler = new RestartOnceHandler(giveUp, CRASH_WINDOW_MS, () => now);
    expect(handler.closed()).toMatchObject({ action: CloseAction.Restart, handled: true });
    expect(giveUp).not.toHaveBeenCalled();
    now += 10_000;
    expect(handler.closed()).toMatchObject({ action: CloseAction.DoNotRestart, handled: true });
    expect(giveUp).toHaveBeenCalledOnce();
  });

  it('treats crashes far apart as separate', () => {
    let now = 0;
    const handler = new RestartOnceHandler(vi.fn(), CRASH_WINDOW_MS, () => now);
    handler.closed();
    now += CRASH_WINDOW_MS + 1;
    expect(handler.closed().action).toBe(CloseAction.Restart);
  });

  it('shuts down after repeated connection errors', () => {
    const handler = new RestartOnceHandler(vi.fn());
    expect(handler.error(new Error('write EPIPE'), undefined, 1).action).toBe(ErrorAction.Continue);
    expect(handler.error(new Error('write EPIPE'), undefined, 4).action).toBe(ErrorAction.Shutdown);
  });
});

describe('serverOptions', () => {
  it('runs the bundled server.py with the chosen interpreter in the workspace folder', () => {
    resetMock();
    workspace.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
    const options = serverOptions(context as never, { path: '/venv/bin/python', source: 'setting' }) as {
      command: string;
      args: string[];
      options: { cwd: string; env: Record<string, string> };
    };
    expect(options.command).toBe('/venv/bin/python');
    expect(options.args).toEqual(['/ext/bundled/tool/server.py']);
    expect(options.options.cwd).toBe('/ws');
    expect(options.options.env.PYTHONUNBUFFERED).toBe('1');
  });
});

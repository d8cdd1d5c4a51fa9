// The daemon's lifecycle: one LanguageClient over stdio, coalesced restarts, one automatic restart after a crash.
import * as vscode from 'vscode';
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandler,
  type ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { checkTorch, type Interpreter, probeInterpreter, resolveInterpreter } from './python';
import type { EvalResult, EvaluatingNotification, ResultNotification, RunParams } from './result';
import { initializationOptions, readSettings, SECTION } from './settings';

export const RUN_REQUEST = 'kernelEval/run';
export const RESULT_NOTIFICATION = 'kernelEval/result';
export const EVALUATING_NOTIFICATION = 'kernelEval/evaluating';
export const CRASH_WINDOW_MS = 3 * 60_000;

/** Restarts a crashed daemon once; a second crash within `windowMs` stops it and calls `onGiveUp`. */
export class RestartOnceHandler implements ErrorHandler {
  private lastRestart: number | undefined;

  constructor(
    private readonly onGiveUp: () => void,
    private readonly windowMs = CRASH_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    const now = this.now();
    if (this.lastRestart === undefined || now - this.lastRestart > this.windowMs) {
      this.lastRestart = now;
      return { action: CloseAction.Restart, message: 'The Kernel Eval daemon stopped; restarting it.', handled: true };
    }
    this.onGiveUp();
    return { action: CloseAction.DoNotRestart, message: 'The Kernel Eval daemon stopped again.', handled: true };
  }
}

export function serverOptions(context: vscode.ExtensionContext, interpreter: Interpreter): ServerOptions {
  return {
    command: interpreter.path,
    args: [context.asAbsolutePath('bundled/tool/server.py')],
    options: {
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    },
  };
}

export class Daemon implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private notRunningReason = 'it has not started yet';
  private queue: Promise<void> = Promise.resolve();
  private queuedRestart: Promise<void> | undefined;
  private readonly resultEmitter = new vscode.EventEmitter<ResultNotification>();
  private readonly evaluatingEmitter = new vscode.EventEmitter<EvaluatingNotification>();
  private readonly startedEmitter = new vscode.EventEmitter<void>();
  readonly onResult = this.resultEmitter.event;
  readonly onEvaluating = this.evaluatingEmitter.event;
  /** After every start, including the automatic restart after a crash. */
  readonly onStarted = this.startedEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  /** Stops the running daemon (if any) and starts one with the current settings; calls in a burst share one restart. */
  restart(): Promise<void> {
    if (this.queuedRestart) {
      return this.queuedRestart;
    }
    const restart = this.queue.then(() => {
      this.queuedRestart = undefined;
      return this.restartNow();
    });
    this.queuedRestart = restart;
    this.queue = restart.catch(() => undefined);
    return restart;
  }

  async run(params: RunParams, token: vscode.CancellationToken): Promise<EvalResult> {
    return this.running().sendRequest<EvalResult>(RUN_REQUEST, params, token);
  }

  async executeCommand(command: string, args: unknown[]): Promise<unknown> {
    return this.running().sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.resultEmitter.dispose();
    this.evaluatingEmitter.dispose();
    this.startedEmitter.dispose();
  }

  private running(): LanguageClient {
    if (!this.client || this.client.state === State.Stopped) {
      throw new Error(
        `The Kernel Eval daemon is not running: ${this.notRunningReason}. See "Kernel Eval: Show Output".`,
      );
    }
    return this.client;
  }

  private async restartNow(): Promise<void> {
    await this.stop();
    const settings = readSettings();
    const interpreter = await resolveInterpreter(settings.pythonPath);
    this.output.info(`Python (${interpreter.source}): ${interpreter.path}`);
    const probe = await probeInterpreter(interpreter.path);
    if (!probe.ok) {
      this.notRunningReason = probe.message;
      this.output.error(probe.message);
      void this.offerSettings(probe.message);
      return;
    }
    void checkTorch(interpreter.path).then((problem) => {
      if (problem) {
        this.output.error(problem);
        void this.offerSettings(problem);
      }
    });
    const client = new LanguageClient(SECTION, 'Kernel Eval', serverOptions(this.context, interpreter), {
      documentSelector: [{ scheme: 'file', language: 'python' }],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: initializationOptions(settings),
      synchronize: { configurationSection: SECTION },
      errorHandler: new RestartOnceHandler(() => void this.reportCrash()),
    } satisfies LanguageClientOptions);
    client.onNotification(RESULT_NOTIFICATION, (n: ResultNotification) => {
      this.resultEmitter.fire(n);
    });
    client.onNotification(EVALUATING_NOTIFICATION, (n: EvaluatingNotification) => {
      this.evaluatingEmitter.fire(n);
    });
    client.onDidChangeState((change) => {
      if (change.newState === State.Running) {
        this.startedEmitter.fire();
      }
    });
    this.client = client;
    this.notRunningReason = 'it stopped';
    try {
      await client.start();
    } catch (error) {
      this.notRunningReason = `it failed to start (${String(error)})`;
      this.output.error(`The daemon failed to start: ${String(error)}`);
    }
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    try {
      await client?.dispose();
    } catch (error) {
      this.output.debug(`Stopping the daemon: ${String(error)}`);
    }
  }

  private async reportCrash(): Promise<void> {
    this.notRunningReason = 'it stopped twice in a row';
    const choice = await vscode.window.showErrorMessage(
      'The Kernel Eval daemon stopped twice in a row and was not restarted again.',
      'Restart',
      'Show Output',
    );
    if (choice === 'Restart') {
      await this.restart();
    } else if (choice === 'Show Output') {
      this.output.show();
    }
  }

  private async offerSettings(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.pythonPath`);
    } else if (choice === 'Show Output') {
      this.output.show();
    }
  }
}

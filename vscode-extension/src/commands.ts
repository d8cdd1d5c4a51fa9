// The palette commands. Each takes the custom file from its argument or the active editor.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { withDelayedProgress } from './progress';
import { pickReferenceFile, type ReferenceStore } from './references';
import type { EvalResult, EvaluatingNotification, RunParams } from './result';

export const COMMANDS = {
  evaluate: 'kernelEval.evaluate',
  selectReference: 'kernelEval.selectReference',
  restart: 'kernelEval.restart',
  showOutput: 'kernelEval.showOutput',
  clearBuildCache: 'kernelEval.clearBuildCache',
  showResult: 'kernelEval.showResult',
} as const;

// The daemon's workspace/executeCommand commands.
export const SET_REFERENCE = 'kernelEval.setReference';
export const CLEAR_CACHE = 'kernelEval.clearCache';

const NO_REFERENCE_ERROR = -32803;
const CANCELLED_ERRORS = new Set([-32800, -32802]);

export interface DaemonApi {
  run(params: RunParams, token: vscode.CancellationToken): Promise<EvalResult>;
  executeCommand(command: string, args: unknown[]): Promise<unknown>;
  restart(): Promise<void>;
  onEvaluating: vscode.Event<EvaluatingNotification>;
}

export interface CommandDeps {
  daemon: DaemonApi;
  references: ReferenceStore;
  output: vscode.LogOutputChannel;
  showResult(file: vscode.Uri, result: EvalResult): void;
  openResult(file: vscode.Uri): Promise<void>;
}

function targetFile(uri: unknown): vscode.Uri | undefined {
  if (uri instanceof vscode.Uri) {
    return uri;
  }
  const document = vscode.window.activeTextEditor?.document;
  return document?.languageId === 'python' && document.uri.scheme === 'file' ? document.uri : undefined;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function noFileOpen(): Promise<void> {
  await vscode.window.showWarningMessage('Kernel Eval: open the custom kernel file (the one with ModelNew) first.');
}

export async function evaluate(deps: CommandDeps, uri?: unknown): Promise<EvalResult | undefined> {
  const file = targetFile(uri);
  if (!file) {
    await noFileOpen();
    return undefined;
  }
  const openDocument = vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
  if (openDocument?.isDirty) {
    await openDocument.save();
  }
  const selected = deps.references.get(file.toString());
  const params: RunParams = { customUri: file.toString(), ...selected };
  const title = `Kernel Eval: ${path.basename(file.fsPath)}`;
  try {
    const result = await withDelayedProgress(title, async (token, report) => {
      const progress = deps.daemon.onEvaluating((n) => {
        if (vscode.Uri.parse(n.uri).toString() === file.toString()) {
          report(n.message);
        }
      });
      try {
        return await deps.daemon.run(params, token);
      } finally {
        progress.dispose();
      }
    });
    deps.showResult(file, result);
    return result;
  } catch (error) {
    await reportRunError(deps, file, error);
    return undefined;
  }
}

async function reportRunError(deps: CommandDeps, file: vscode.Uri, error: unknown): Promise<void> {
  const code = errorCode(error);
  if (code !== undefined && CANCELLED_ERRORS.has(code)) {
    deps.output.info(`Evaluation of ${file.fsPath} cancelled`);
    return;
  }
  if (code === NO_REFERENCE_ERROR) {
    const choice = await vscode.window.showWarningMessage(errorText(error), 'Select Reference…');
    if (choice) {
      await selectReference(deps, file);
    }
    return;
  }
  deps.output.error(`Evaluating ${file.fsPath}: ${errorText(error)}`);
  const choice = await vscode.window.showErrorMessage(`Kernel Eval: ${errorText(error)}`, 'Show Output');
  if (choice) {
    deps.output.show();
  }
}

export async function selectReference(deps: CommandDeps, uri?: unknown): Promise<void> {
  const file = targetFile(uri);
  if (!file) {
    await noFileOpen();
    return;
  }
  const reference = await pickReferenceFile(file);
  if (!reference) {
    return;
  }
  await deps.references.remember(file.toString(), { refUri: reference.toString() });
  await deps.daemon.executeCommand(SET_REFERENCE, [file.toString(), reference.toString()]);
  await evaluate(deps, file);
}

/** Tells a (re)started daemon every reference chosen with "Select Reference…". */
export async function resendReferences(deps: Pick<CommandDeps, 'daemon' | 'references' | 'output'>): Promise<void> {
  for (const [custom, reference] of Object.entries(deps.references.all())) {
    const args = [custom, reference.refUri, ...(reference.refEntryPoint ? [reference.refEntryPoint] : [])];
    await deps.daemon.executeCommand(SET_REFERENCE, args).catch((error: unknown) => {
      deps.output.warn(`Re-sending the reference of ${custom}: ${errorText(error)}`);
    });
  }
}

export async function clearBuildCache(deps: CommandDeps, uri?: unknown): Promise<void> {
  const file = targetFile(uri);
  if (!file) {
    await noFileOpen();
    return;
  }
  try {
    await deps.daemon.executeCommand(CLEAR_CACHE, [file.toString()]);
    void vscode.window.showInformationMessage(`Kernel Eval: build cache cleared for ${path.basename(file.fsPath)}.`);
  } catch (error) {
    await vscode.window.showErrorMessage(`Kernel Eval: ${errorText(error)}`);
  }
}

export async function openResult(deps: CommandDeps, uri?: unknown): Promise<void> {
  const file = targetFile(uri);
  if (!file) {
    await noFileOpen();
    return;
  }
  await deps.openResult(file);
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.evaluate, (uri?: unknown) => evaluate(deps, uri)),
    vscode.commands.registerCommand(COMMANDS.selectReference, (uri?: unknown) => selectReference(deps, uri)),
    vscode.commands.registerCommand(COMMANDS.restart, () => deps.daemon.restart()),
    vscode.commands.registerCommand(COMMANDS.showOutput, () => {
      deps.output.show();
    }),
    vscode.commands.registerCommand(COMMANDS.clearBuildCache, (uri?: unknown) => clearBuildCache(deps, uri)),
    vscode.commands.registerCommand(COMMANDS.showResult, (uri?: unknown) => openResult(deps, uri)),
  ];
}

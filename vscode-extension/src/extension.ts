import * as vscode from 'vscode';
import { Daemon } from './client';
import { type CommandDeps, registerCommands, resendReferences } from './commands';
import { onPythonExtensionInterpreterChange } from './python';
import { ReferenceStore } from './references';
import { RESULT_SCHEME, ResultDocuments } from './resultView';
import { needsRestart, readSettings } from './settings';
import { KernelStatusBar } from './statusBar';

let daemon: Daemon | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Kernel Eval', { log: true });
  const status = new KernelStatusBar();
  const results = new ResultDocuments((file) => status.resultFor(file));
  daemon = new Daemon(context, output);
  const deps: CommandDeps = {
    daemon,
    references: new ReferenceStore(context.workspaceState),
    output,
    showResult: (file, result) => {
      status.showResult(file.toString(), result);
    },
    openResult: (file) => results.show(file),
  };

  context.subscriptions.push(
    output,
    status,
    results,
    daemon,
    vscode.workspace.registerTextDocumentContentProvider(RESULT_SCHEME, results),
    ...registerCommands(deps),
    daemon.onResult(({ uri, result }) => {
      status.showResult(uri, result);
    }),
    daemon.onEvaluating((notification) => {
      status.showEvaluating(notification);
    }),
    daemon.onStarted(() => void resendReferences(deps)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (needsRestart(event)) {
        void daemon?.restart();
      }
    }),
  );
  const interpreterWatch = await onPythonExtensionInterpreterChange(() => {
    if (!readSettings().pythonPath) {
      void daemon?.restart();
    }
  });
  if (interpreterWatch) {
    context.subscriptions.push(interpreterWatch);
  }
  void daemon.restart();
}

export async function deactivate(): Promise<void> {
  await daemon?.dispose();
  daemon = undefined;
}

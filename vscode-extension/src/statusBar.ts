// One status bar item showing the active kernel file's last verdict, or its evaluation in progress.
import * as vscode from 'vscode';
import { tooltipMarkdown } from './markdown';
import type { EvalResult, EvaluatingNotification } from './result';

export const SHOW_RESULT_COMMAND = 'kernelEval.showResult';

export interface StatusView {
  text: string;
  label: string;
  tooltip?: string;
}

const PHASE_VERBS: Record<string, string> = {
  load: 'loading',
  build: 'building',
  check: 'checking',
  time: 'timing',
  done: 'finishing',
};

export function resultView(result: EvalResult): StatusView {
  const view = verdictView(result);
  if (result.sandbox?.mode !== 'off') {
    return view;
  }
  return { ...view, text: `${view.text} $(unlock) sandbox off`, label: `${view.label}, sandbox off` };
}

/** The server's status, as the status bar words it (the server decides it: a flagged cheat is never "correct"). */
function verdictView(result: EvalResult): StatusView {
  const tooltip = tooltipMarkdown(result);
  if (result.status === 'flagged') {
    return { text: '$(warning) flagged', label: 'Kernel flagged', tooltip };
  }
  if (result.status === 'correct' && result.speedup_text) {
    const speedup = result.speedup_text;
    return { text: `$(pulse) ${speedup}`, label: `Kernel speedup ${speedup}`, tooltip };
  }
  if (result.status === 'correct') {
    return { text: '$(check) correct', label: 'Kernel correct', tooltip };
  }
  if (result.status === 'incorrect') {
    return { text: '$(error) incorrect', label: 'Kernel incorrect', tooltip };
  }
  return { text: `$(warning) ${result.phase} error`, label: `Kernel ${result.phase} error`, tooltip };
}

export function evaluatingView(phase: string, message: string): StatusView {
  const verb = PHASE_VERBS[phase] ?? 'evaluating';
  return { text: `$(sync~spin) ${verb}…`, label: `Kernel evaluation ${verb}`, tooltip: message || undefined };
}

interface FileState {
  result?: EvalResult;
  evaluating?: StatusView;
}

function key(uri: string | vscode.Uri): string {
  return (typeof uri === 'string' ? vscode.Uri.parse(uri) : uri).toString();
}

export class KernelStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('kernelEval.status', vscode.StatusBarAlignment.Left, 50);
  private readonly files = new Map<string, FileState>();
  private readonly subscription = vscode.window.onDidChangeActiveTextEditor(() => {
    this.refresh();
  });

  constructor() {
    this.item.name = 'Kernel Eval';
    this.item.command = SHOW_RESULT_COMMAND;
  }

  showEvaluating(notification: EvaluatingNotification): void {
    const state = this.state(notification.uri);
    state.evaluating =
      notification.phase === 'cancelled' ? undefined : evaluatingView(notification.phase, notification.message);
    this.refresh();
  }

  showResult(uri: string, result: EvalResult): void {
    this.files.set(key(uri), { result });
    this.refresh();
  }

  resultFor(uri: vscode.Uri): EvalResult | undefined {
    return this.files.get(key(uri))?.result;
  }

  refresh(): void {
    const uri = vscode.window.activeTextEditor?.document.uri;
    const state = uri ? this.files.get(key(uri)) : undefined;
    const view = state?.evaluating ?? (state?.result ? resultView(state.result) : undefined);
    if (!view) {
      this.item.hide();
      return;
    }
    this.item.text = view.text;
    this.item.accessibilityInformation = { label: view.label, role: 'button' };
    this.item.tooltip = view.tooltip === undefined ? undefined : new vscode.MarkdownString(view.tooltip);
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }

  private state(uri: string): FileState {
    const k = key(uri);
    const existing = this.files.get(k);
    if (existing) {
      return existing;
    }
    const created: FileState = {};
    this.files.set(k, created);
    return created;
  }
}

// "Click the status bar item": the full result as a read-only markdown document.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { resultDocument } from './markdown';
import type { EvalResult } from './result';

export const RESULT_SCHEME = 'kernel-eval-result';

export class ResultDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly resultFor: (file: vscode.Uri) => EvalResult | undefined) {}

  static documentUri(file: vscode.Uri): vscode.Uri {
    const name = `${path.basename(file.fsPath)} — kernel result.md`;
    return vscode.Uri.from({ scheme: RESULT_SCHEME, path: `/${name}`, query: file.toString() });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const file = vscode.Uri.parse(uri.query);
    const result = this.resultFor(file);
    if (!result) {
      return `# Kernel Eval\n\nNo result yet for ${file.fsPath}: run "Kernel Eval: Evaluate Kernel".\n`;
    }
    return resultDocument(path.basename(file.fsPath), result);
  }

  async show(file: vscode.Uri): Promise<void> {
    const uri = ResultDocuments.documentUri(file);
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  }

  dispose(): void {
    this.changed.dispose();
  }
}

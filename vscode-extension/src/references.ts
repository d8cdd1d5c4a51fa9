// "Select Reference…": a quick pick of workspace .py files, remembered per custom file in workspaceState.
import * as path from 'node:path';
import * as vscode from 'vscode';

const STATE_KEY = 'kernelEval.selectedReferences';
const NOT_SOURCES = '**/{.git,.venv,venv,node_modules,__pycache__,site-packages,.e2e}/**';

export interface SelectedReference {
  refUri: string;
  refEntryPoint?: string;
}

export class ReferenceStore {
  constructor(private readonly state: vscode.Memento) {}

  get(customUri: string): SelectedReference | undefined {
    return this.all()[customUri];
  }

  all(): Record<string, SelectedReference> {
    return this.state.get<Record<string, SelectedReference>>(STATE_KEY, {});
  }

  async remember(customUri: string, reference: SelectedReference): Promise<void> {
    await this.state.update(STATE_KEY, { ...this.all(), [customUri]: reference });
  }
}

interface FileItem extends vscode.QuickPickItem {
  uri: vscode.Uri;
}

export async function pickReferenceFile(custom: vscode.Uri): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles('**/*.py', NOT_SOURCES, 5000);
  const items: FileItem[] = files
    .filter((uri) => uri.toString() !== custom.toString())
    .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri), uri }))
    .sort((a, b) => a.description.localeCompare(b.description));
  const picked = await vscode.window.showQuickPick(items, {
    title: `Reference for ${path.basename(custom.fsPath)}`,
    placeHolder: 'The file whose Model the kernel must match',
    matchOnDescription: true,
  });
  return picked?.uri;
}

// Which Python runs the daemon, and whether it can import torch.
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import { PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';
export const DEFAULT_PYTHON = 'python3';

export interface Interpreter {
  path: string;
  source: 'setting' | 'python-extension' | 'default';
}

export function expandPath(value: string, workspaceFolder?: string): string {
  let expanded = value.trim();
  if (workspaceFolder) {
    expanded = expanded.replaceAll('${workspaceFolder}', workspaceFolder);
  }
  if (expanded === '~' || expanded.startsWith('~/')) {
    expanded = os.homedir() + expanded.slice(1);
  }
  return expanded;
}

async function pythonExtensionApi(): Promise<PythonExtension | undefined> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) {
    return undefined;
  }
  return PythonExtension.api();
}

async function activeInterpreterOfPythonExtension(resource?: vscode.Uri): Promise<string | undefined> {
  const api = await pythonExtensionApi();
  if (!api) {
    return undefined;
  }
  const environment = await api.environments.resolveEnvironment(api.environments.getActiveEnvironmentPath(resource));
  return environment?.executable.uri?.fsPath;
}

/** `kernelEval.pythonPath`, else the Python extension's active interpreter, else `python3`. */
export async function resolveInterpreter(pythonPathSetting: string, resource?: vscode.Uri): Promise<Interpreter> {
  const folder = resource ? vscode.workspace.getWorkspaceFolder(resource) : vscode.workspace.workspaceFolders?.[0];
  if (pythonPathSetting.trim()) {
    return { path: expandPath(pythonPathSetting, folder?.uri.fsPath), source: 'setting' };
  }
  try {
    const fromExtension = await activeInterpreterOfPythonExtension(folder?.uri);
    if (fromExtension) {
      return { path: fromExtension, source: 'python-extension' };
    }
  } catch {
    // The Python extension is installed but failed to answer: fall back like it was absent.
  }
  return { path: DEFAULT_PYTHON, source: 'default' };
}

/** Calls `onChange` when the Python extension's active interpreter changes (nothing when it is absent). */
export async function onPythonExtensionInterpreterChange(onChange: () => void): Promise<vscode.Disposable | undefined> {
  try {
    const api = await pythonExtensionApi();
    return api?.environments.onDidChangeActiveEnvironmentPath(onChange);
  } catch {
    return undefined;
  }
}

export const MIN_PYTHON: readonly [number, number] = [3, 10];

export type Probe = { ok: true; version: string } | { ok: false; message: string };

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Runs the interpreter once: does it exist, and is it new enough for the daemon? */
export function probeInterpreter(pythonPath: string, timeoutMs = 30_000): Promise<Probe> {
  const script = 'import sys; print("%d.%d" % sys.version_info[:2])';
  return new Promise((resolve) => {
    execFile(pythonPath, ['-c', script], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        resolve({
          ok: false,
          message: `Kernel Eval: Python interpreter not found: ${pythonPath}. Set "kernelEval.pythonPath" to a Python that has torch.`,
        });
        return;
      }
      if (error) {
        resolve({
          ok: false,
          message: `Kernel Eval: ${pythonPath} failed to start: ${lastLine(stderr) || error.message}`,
        });
        return;
      }
      const version = stdout.trim();
      const [major = 0, minor = 0] = version.split('.').map(Number);
      if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
        resolve({
          ok: false,
          message: `Kernel Eval needs Python ${MIN_PYTHON.join('.')} or newer, but ${pythonPath} is Python ${version}. Set "kernelEval.pythonPath".`,
        });
        return;
      }
      resolve({ ok: true, version });
    });
  });
}

/** `undefined` when `<python> -c "import torch"` works, else a message naming the interpreter and the fix. */
export function checkTorch(pythonPath: string, timeoutMs = 120_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(pythonPath, ['-c', 'import torch'], { timeout: timeoutMs }, (error, _stdout, stderr) => {
      if (!error) {
        resolve(undefined);
        return;
      }
      resolve(
        `Kernel Eval: torch cannot be imported by ${pythonPath} (${lastLine(stderr) || error.message}). ` +
          `Install it: ${pythonPath} -m pip install torch ninja triton`,
      );
    });
  });
}

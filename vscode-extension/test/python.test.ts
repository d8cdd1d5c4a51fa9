import * as os from 'node:os';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PythonExtension } from '@vscode/python-extension';
import { checkTorch, expandPath, probeInterpreter, resolveInterpreter } from '../src/python';
import { extensions, resetMock, Uri, workspace } from './vscode.mock';

vi.mock('@vscode/python-extension', () => ({ PythonExtension: { api: vi.fn() } }));

function pythonExtensionWith(executable: string | undefined): void {
  extensions.getExtension.mockReturnValue({ id: 'ms-python.python' });
  vi.mocked(PythonExtension.api).mockResolvedValue({
    environments: {
      getActiveEnvironmentPath: () => ({ id: 'env', path: executable ?? '' }),
      resolveEnvironment: async () =>
        Promise.resolve({ executable: { uri: executable ? Uri.file(executable) : undefined } }),
    },
  } as unknown as PythonExtension);
}

describe('resolveInterpreter', () => {
  beforeEach(() => {
    resetMock();
    workspace.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
  });

  it('uses kernelEval.pythonPath first, expanding ${workspaceFolder} and ~', async () => {
    pythonExtensionWith('/envs/other/bin/python');
    expect(await resolveInterpreter('${workspaceFolder}/.venv/bin/python')).toEqual({
      path: '/ws/.venv/bin/python',
      source: 'setting',
    });
    expect(expandPath('~/py/bin/python')).toBe(`${os.homedir()}/py/bin/python`);
  });

  it("uses the Python extension's active interpreter when the setting is empty", async () => {
    pythonExtensionWith('/envs/torch/bin/python');
    expect(await resolveInterpreter('')).toEqual({ path: '/envs/torch/bin/python', source: 'python-extension' });
  });

  it('falls back to python3 without the Python extension', async () => {
    expect(await resolveInterpreter('  ')).toEqual({ path: 'python3', source: 'default' });
    expect(PythonExtension.api).not.toHaveBeenCalled();
  });

  it('falls back to python3 when the Python extension has no interpreter or fails', async () => {
    pythonExtensionWith(undefined);
    expect((await resolveInterpreter('')).source).toBe('default');
    vi.mocked(PythonExtension.api).mockRejectedValue(new Error('not activated'));
    expect((await resolveInterpreter('')).path).toBe('python3');
  });
});

describe('interpreter checks (real subprocesses)', () => {
  it('names a missing interpreter and the setting to change', async () => {
    const probe = await probeInterpreter('/nonexistent/bin/python');
    expect(probe).toEqual({
      ok: false,
      message: expect.stringContaining('Python interpreter not found: /nonexistent/bin/python') as string,
    });
    expect(probe.ok || probe.message).toContain('kernelEval.pythonPath');
  });

  it('accepts a working Python 3.10+', async () => {
    expect(await probeInterpreter(process.env.PYTHON3 ?? 'python3')).toMatchObject({ ok: true });
  });

  it('names the interpreter and the pip command when torch is missing', async () => {
    // `python3 -I -S` cannot see site-packages, so torch is missing there whatever is installed.
    const script = `${os.tmpdir()}/no-site-python-${process.pid}.sh`;
    const { writeFileSync, chmodSync, rmSync } = await import('node:fs');
    writeFileSync(script, '#!/bin/sh\nexec python3 -I -S "$@"\n');
    chmodSync(script, 0o755);
    try {
      const problem = await checkTorch(script);
      expect(problem).toContain(`torch cannot be imported by ${script}`);
      expect(problem).toContain("No module named 'torch'");
      expect(problem).toContain(`${script} -m pip install torch ninja triton`);
    } finally {
      rmSync(script);
    }
  });
});

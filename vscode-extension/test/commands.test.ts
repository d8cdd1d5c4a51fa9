import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  clearBuildCache,
  COMMANDS,
  type CommandDeps,
  evaluate,
  registerCommands,
  resendReferences,
  selectReference,
} from '../src/commands';
import { ReferenceStore } from '../src/references';
import type { EvaluatingNotification } from '../src/result';
import { correctTimed } from './fixtures';
import { commands, EventEmitter, resetMock, setActiveEditor, Uri, window, workspace } from './vscode.mock';

class FakeMemento {
  private readonly values = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : fallback;
  }
  update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
}

function fakeDeps() {
  const evaluating = new EventEmitter<EvaluatingNotification>();
  const daemon = {
    run: vi.fn(async (..._args: unknown[]) => Promise.resolve(correctTimed())),
    executeCommand: vi.fn(async (..._args: unknown[]): Promise<unknown> => Promise.resolve(null)),
    restart: vi.fn(async () => Promise.resolve()),
    onEvaluating: evaluating.event,
  };
  const output = { info: vi.fn(), warn: vi.fn(), error: vi.fn(), show: vi.fn() };
  const deps = {
    daemon,
    references: new ReferenceStore(new FakeMemento()),
    output,
    showResult: vi.fn(),
    openResult: vi.fn(async () => Promise.resolve()),
  };
  return { deps, asDeps: deps as unknown as CommandDeps, evaluating };
}

const kernel = Uri.file('/ws/model_new_add.py');
const reference = Uri.file('/ws/model_add.py');

describe('command wiring', () => {
  beforeEach(resetMock);

  it('registers exactly the commands package.json contributes', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      contributes: { commands: { command: string; title: string }[] };
    };
    registerCommands(fakeDeps().asDeps);
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    expect([...commands.registered.keys()].sort()).toEqual(contributed);
    expect(manifest.contributes.commands.find((c) => c.command === COMMANDS.evaluate)?.title).toBe('Evaluate Kernel');
  });

  it('does not take the ids the daemon registers through executeCommand', () => {
    for (const id of ['kernelEval.run', 'kernelEval.clearCache', 'kernelEval.setReference']) {
      expect(Object.values(COMMANDS)).not.toContain(id);
    }
  });

  it('routes the palette commands to the daemon', async () => {
    const { deps, asDeps } = fakeDeps();
    registerCommands(asDeps);
    await commands.registered.get(COMMANDS.restart)?.();
    expect(deps.daemon.restart).toHaveBeenCalledOnce();
    await commands.registered.get(COMMANDS.showOutput)?.();
    expect(deps.output.show).toHaveBeenCalledOnce();
    setActiveEditor(kernel);
    await commands.registered.get(COMMANDS.showResult)?.();
    expect(deps.openResult).toHaveBeenCalledWith(kernel);
  });
});

describe('Evaluate Kernel', () => {
  beforeEach(resetMock);

  it("runs the active editor's file and shows the result", async () => {
    const { deps, asDeps } = fakeDeps();
    setActiveEditor(kernel);
    const result = await evaluate(asDeps);
    expect(deps.daemon.run).toHaveBeenCalledWith({ customUri: kernel.toString() }, expect.anything());
    expect(result?.verdict).toBe('correct');
    expect(deps.showResult).toHaveBeenCalledWith(kernel, result);
  });

  it('saves unsaved changes first, so the daemon judges what the user sees', async () => {
    const { asDeps } = fakeDeps();
    const save = vi.fn(async () => Promise.resolve(true));
    workspace.textDocuments = [{ uri: kernel, isDirty: true, save }];
    await evaluate(asDeps, kernel);
    expect(save).toHaveBeenCalledOnce();
  });

  it('sends the reference chosen with Select Reference…', async () => {
    const { deps, asDeps } = fakeDeps();
    await deps.references.remember(kernel.toString(), { refUri: reference.toString() });
    await evaluate(asDeps, kernel);
    expect(deps.daemon.run).toHaveBeenCalledWith(
      { customUri: kernel.toString(), refUri: reference.toString() },
      expect.anything(),
    );
  });

  it('asks for a file when no Python editor is active', async () => {
    const { deps, asDeps } = fakeDeps();
    setActiveEditor(Uri.file('/ws/notes.md'), 'markdown');
    expect(await evaluate(asDeps)).toBeUndefined();
    expect(deps.daemon.run).not.toHaveBeenCalled();
    expect(window.showWarningMessage).toHaveBeenCalledWith(expect.stringContaining('open the custom kernel file'));
  });

  it('offers Select Reference… when the daemon finds no reference (-32803)', async () => {
    const { deps, asDeps } = fakeDeps();
    const message = 'No reference for model_new_add.py: add a comment `# kernel-eval: ref=...`';
    deps.daemon.run.mockRejectedValue(Object.assign(new Error(message), { code: -32803 }));
    await evaluate(asDeps, kernel);
    expect(window.showWarningMessage).toHaveBeenCalledWith(message, 'Select Reference…');
    expect(window.showErrorMessage).not.toHaveBeenCalled();
  });

  it('stays quiet when the evaluation was cancelled', async () => {
    const { deps, asDeps } = fakeDeps();
    deps.daemon.run.mockRejectedValue(Object.assign(new Error('cancelled'), { code: -32800 }));
    await evaluate(asDeps, kernel);
    expect(window.showErrorMessage).not.toHaveBeenCalled();
    expect(window.showWarningMessage).not.toHaveBeenCalled();
  });

  it('reports other failures with a way to the output', async () => {
    const { deps, asDeps } = fakeDeps();
    deps.daemon.run.mockRejectedValue(new Error('The Kernel Eval daemon is not running: it stopped'));
    window.showErrorMessage.mockResolvedValue('Show Output');
    await evaluate(asDeps, kernel);
    expect(window.showErrorMessage).toHaveBeenCalledWith(
      'Kernel Eval: The Kernel Eval daemon is not running: it stopped',
      'Show Output',
    );
    expect(deps.output.show).toHaveBeenCalled();
  });
});

describe('references', () => {
  beforeEach(resetMock);

  it('remembers the picked file, tells the daemon, and evaluates', async () => {
    const { deps, asDeps } = fakeDeps();
    workspace.findFiles.mockResolvedValue([kernel, reference]);
    window.showQuickPick.mockImplementation(async (items: unknown) =>
      Promise.resolve((items as { uri: Uri }[]).find((i) => i.uri === reference)),
    );
    await selectReference(asDeps, kernel);
    const items = window.showQuickPick.mock.calls[0]?.[0] as { label: string }[];
    expect(items.map((i) => i.label)).toEqual(['model_add.py']);
    expect(deps.references.get(kernel.toString())).toEqual({ refUri: reference.toString() });
    expect(deps.daemon.executeCommand).toHaveBeenCalledWith('kernelEval.setReference', [
      kernel.toString(),
      reference.toString(),
    ]);
    expect(deps.daemon.run).toHaveBeenCalledOnce();
  });

  it('does nothing when the pick is dismissed', async () => {
    const { deps, asDeps } = fakeDeps();
    await selectReference(asDeps, kernel);
    expect(deps.daemon.executeCommand).not.toHaveBeenCalled();
    expect(deps.references.all()).toEqual({});
  });

  it('re-sends every remembered reference to a restarted daemon', async () => {
    const { deps, asDeps } = fakeDeps();
    await deps.references.remember('file:///ws/a_new.py', { refUri: 'file:///ws/a.py' });
    await deps.references.remember('file:///ws/b_new.py', { refUri: 'file:///ws/b.py', refEntryPoint: 'Ref' });
    await resendReferences(asDeps);
    expect(deps.daemon.executeCommand.mock.calls).toEqual([
      ['kernelEval.setReference', ['file:///ws/a_new.py', 'file:///ws/a.py']],
      ['kernelEval.setReference', ['file:///ws/b_new.py', 'file:///ws/b.py', 'Ref']],
    ]);
  });
});

describe('Clear Build Cache for This File', () => {
  beforeEach(resetMock);

  it('asks the daemon to clear the active file', async () => {
    const { deps, asDeps } = fakeDeps();
    setActiveEditor(kernel);
    await clearBuildCache(asDeps);
    expect(deps.daemon.executeCommand).toHaveBeenCalledWith('kernelEval.clearCache', [kernel.toString()]);
    expect(window.showInformationMessage).toHaveBeenCalledWith(expect.stringContaining('model_new_add.py'));
  });
});

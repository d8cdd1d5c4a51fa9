import { beforeEach, describe, expect, it } from 'vitest';
import { resultDocument, tooltipMarkdown } from '../src/markdown';
import { evaluatingView, KernelStatusBar, resultView, SHOW_RESULT_COMMAND } from '../src/statusBar';
import { resetMock, setActiveEditor, statusBarItems, Uri } from './vscode.mock';
import { buildError, correctTimed, correctUntimed, flagged, incorrect } from './fixtures';

describe('resultView', () => {
  it('shows the speedup after a correct timed evaluation', () => {
    const view = resultView(correctTimed(2.3145));
    expect(view.text).toBe('$(pulse) 2.31×');
    expect(view.label).toBe('Kernel speedup 2.31×');
  });

  it("shows the server's speedup text as it is", () => {
    expect(resultView(correctTimed(0.000431, '0.00043×')).text).toBe('$(pulse) 0.00043×');
    expect(resultView(correctTimed(0.25, '0.25×')).text).toBe('$(pulse) 0.25×');
  });

  it('shows a flagged result as flagged, whatever its speedup', () => {
    expect(resultView(flagged())).toMatchObject({ text: '$(warning) flagged', label: 'Kernel flagged' });
    expect(tooltipMarkdown(flagged())).toContain('⚑ **output_subclass** (error)');
    expect(resultDocument('model_new.py', flagged())).toContain('## Flags');
  });

  it("shows the server's status, never one derived from the flags", () => {
    expect(resultView({ ...flagged(), flags: [] }).text).toBe('$(warning) flagged');
    expect(resultView({ ...correctUntimed(), flags: flagged().flags }).text).toBe('$(check) correct');
  });

  it('says when the kernel ran outside the sandbox', () => {
    const unconfined = { ...correctTimed(2.3145), sandbox: { mode: 'off' as const, landlock_abi: 0, protections: [] } };
    expect(resultView(unconfined)).toMatchObject({
      text: '$(pulse) 2.31× $(unlock) sandbox off',
      label: 'Kernel speedup 2.31×, sandbox off',
    });
    expect(resultView(correctTimed(2.3145)).text).toBe('$(pulse) 2.31×');
  });

  it('shows "correct" without timing', () => {
    expect(resultView(correctUntimed())).toMatchObject({ text: '$(check) correct', label: 'Kernel correct' });
  });

  it('shows "incorrect"', () => {
    expect(resultView(incorrect())).toMatchObject({ text: '$(error) incorrect', label: 'Kernel incorrect' });
  });

  it('names the phase of an error', () => {
    expect(resultView(buildError())).toMatchObject({ text: '$(warning) build error', label: 'Kernel build error' });
  });

  it('shows the phase in progress with a spinner', () => {
    expect(evaluatingView('build', 'ninja [2/3]')).toEqual({
      text: '$(sync~spin) building…',
      label: 'Kernel evaluation building',
      tooltip: 'ninja [2/3]',
    });
  });
});

describe('tooltip', () => {
  it('has the timing table with medians, IQR, trials and the device', () => {
    const tooltip = tooltipMarkdown(correctTimed(2));
    expect(tooltip).toContain('| | median | IQR | trials |');
    expect(tooltip).toContain('| reference | 2.47 ms | 0.0247 ms | 10 |');
    expect(tooltip).toContain('| custom | 1.23 ms | 0.0123 ms | 10 |');
    expect(tooltip).toContain('Device: `cuda:0` · triton');
    expect(tooltip).not.toContain('not representative');
  });

  it('warns when timings are not meaningful (CPU, interpreter)', () => {
    const result = correctTimed();
    result.device = 'cpu';
    if (result.timing) {
      result.timing.meaningful = false;
    }
    expect(tooltipMarkdown(result)).toContain('Timings on cpu are not representative');
  });

  it('says what failed when incorrect', () => {
    expect(tooltipMarkdown(incorrect())).toContain('✗ incorrect — max abs error 3.0 at [0, 1]');
  });
});

describe('full result document', () => {
  it('lists messages with their location and fix, and the raw JSON', () => {
    const text = resultDocument('model_new.py', buildError());
    expect(text).toContain('# Kernel Eval: model_new.py');
    expect(text).toContain("**⚠ build error — expected ';' before '}' token**");
    expect(text).toContain("- **error** [build/compile_error] (/ws/model_new.py:12): expected ';'");
    expect(text).toContain('  - Fix: add the semicolon');
    expect(text).toContain('"kind": "compile_error"');
  });
});

describe('KernelStatusBar', () => {
  const kernel = Uri.file('/ws/model_new_add.py');
  const other = Uri.file('/ws/other.py');

  beforeEach(() => {
    resetMock();
    setActiveEditor(kernel);
  });

  function item() {
    const created = statusBarItems[0];
    if (!created) {
      throw new Error('no status bar item created');
    }
    return created;
  }

  it('shows the active file result, labelled for screen readers, and opens the result on click', () => {
    const bar = new KernelStatusBar();
    expect(item().visible).toBe(false);
    bar.showResult(kernel.toString(), correctTimed(2.3145));
    expect(item()).toMatchObject({ visible: true, text: '$(pulse) 2.31×', command: SHOW_RESULT_COMMAND });
    expect(item().accessibilityInformation?.label).toBe('Kernel speedup 2.31×');
    expect(item().tooltip?.value).toContain('| custom |');
  });

  it('spins while evaluating, then shows the verdict', () => {
    const bar = new KernelStatusBar();
    bar.showEvaluating({ uri: kernel.toString(), phase: 'build', message: 'building' });
    expect(item().text).toBe('$(sync~spin) building…');
    bar.showResult(kernel.toString(), incorrect());
    expect(item().text).toBe('$(error) incorrect');
    expect(item().accessibilityInformation?.label).toBe('Kernel incorrect');
  });

  it('goes back to the last verdict when an evaluation is cancelled', () => {
    const bar = new KernelStatusBar();
    bar.showResult(kernel.toString(), correctUntimed());
    bar.showEvaluating({ uri: kernel.toString(), phase: 'check', message: '' });
    expect(item().text).toBe('$(sync~spin) checking…');
    bar.showEvaluating({ uri: kernel.toString(), phase: 'cancelled', message: '' });
    expect(item().text).toBe('$(check) correct');
  });

  it('follows the active editor and hides for files without a result', () => {
    const bar = new KernelStatusBar();
    bar.showResult(kernel.toString(), correctUntimed());
    setActiveEditor(other);
    expect(item().visible).toBe(false);
    setActiveEditor(kernel);
    expect(item().visible).toBe(true);
    expect(bar.resultFor(kernel as never)?.verdict).toBe('correct');
    expect(bar.resultFor(other as never)).toBeUndefined();
  });

  it('matches URIs however the daemon encodes them', () => {
    const spaced = Uri.file('/ws/my kernels/model_new.py');
    setActiveEditor(spaced);
    const bar = new KernelStatusBar();
    bar.showResult('file:///ws/my%20kernels/model_new.py', correctUntimed());
    expect(item().visible).toBe(true);
  });
});

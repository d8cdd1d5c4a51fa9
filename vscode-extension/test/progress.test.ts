import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withDelayedProgress } from '../src/progress';
import { CancellationTokenSource, ProgressLocation, resetMock, window } from './vscode.mock';

describe('withDelayedProgress', () => {
  beforeEach(() => {
    resetMock();
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows no notification for work done within a second', async () => {
    const result = await withDelayedProgress('Kernel Eval', async () => Promise.resolve(42));
    vi.advanceTimersByTime(5000);
    expect(result).toBe(42);
    expect(window.withProgress).not.toHaveBeenCalled();
  });

  it('shows a cancellable notification after a second; Cancel cancels the work', async () => {
    const userCancel = new CancellationTokenSource();
    const reported: unknown[] = [];
    window.withProgress.mockImplementation(async (_options, task) =>
      task({ report: (value: unknown) => reported.push(value) }, userCancel.token),
    );
    const running = withDelayedProgress('Kernel Eval: model_new.py', (token, report) => {
      report('building');
      return new Promise<string>((resolve) => {
        token.onCancellationRequested(() => {
          resolve('cancelled');
        });
      });
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(window.withProgress).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(window.withProgress).toHaveBeenCalledWith(
      { location: ProgressLocation.Notification, title: 'Kernel Eval: model_new.py', cancellable: true },
      expect.any(Function),
    );
    expect(reported).toEqual([{ message: 'building' }]);
    userCancel.cancel();
    expect(await running).toBe('cancelled');
  });
});

// A cancellable progress notification that appears only when the work takes longer than `delayMs`.
import * as vscode from 'vscode';

export type Work<T> = (token: vscode.CancellationToken, report: (message: string) => void) => Promise<T>;

export async function withDelayedProgress<T>(title: string, work: Work<T>, delayMs = 1000): Promise<T> {
  const cancellation = new vscode.CancellationTokenSource();
  let progress: vscode.Progress<{ message?: string }> | undefined;
  let lastMessage = '';
  const report = (message: string): void => {
    lastMessage = message;
    progress?.report({ message });
  };
  const running = work(cancellation.token, report);
  const timer = setTimeout(() => {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (shown, token) => {
        progress = shown;
        shown.report({ message: lastMessage });
        token.onCancellationRequested(() => {
          cancellation.cancel();
        });
        return running.then(
          () => undefined,
          () => undefined,
        );
      },
    );
  }, delayMs);
  try {
    return await running;
  } finally {
    clearTimeout(timer);
    cancellation.dispose();
  }
}

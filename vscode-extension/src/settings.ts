// The `kernelEval` settings, as sent to the daemon in initializationOptions and didChangeConfiguration.
import * as vscode from 'vscode';

export const SECTION = 'kernelEval';

export interface ReferenceSetting {
  ref: string;
  refEntryPoint?: string;
  customEntryPoint?: string;
}

export interface KernelEvalSettings {
  pythonPath: string;
  evaluateOnSave: boolean;
  measurePerformance: boolean;
  device: string;
  numCorrectTrials: number;
  numPerfTrials: number;
  atol: number | null;
  rtol: number | null;
  timeout: number;
  references: Record<string, ReferenceSetting>;
  trace: { server: 'off' | 'messages' | 'verbose' };
}

export function readSettings(scope?: vscode.ConfigurationScope): KernelEvalSettings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    pythonPath: config.get<string>('pythonPath', ''),
    evaluateOnSave: config.get<boolean>('evaluateOnSave', true),
    measurePerformance: config.get<boolean>('measurePerformance', true),
    device: config.get<string>('device', ''),
    numCorrectTrials: config.get<number>('numCorrectTrials', 1),
    numPerfTrials: config.get<number>('numPerfTrials', 10),
    atol: config.get<number | null>('atol', null),
    rtol: config.get<number | null>('rtol', null),
    timeout: config.get<number>('timeout', 300),
    references: config.get<Record<string, ReferenceSetting>>('references', {}),
    trace: { server: config.get<'off' | 'messages' | 'verbose'>('trace.server', 'off') },
  };
}

/** Same shape as the `settings` of workspace/didChangeConfiguration (synchronize.configurationSection). */
export function initializationOptions(settings: KernelEvalSettings): { [SECTION]: KernelEvalSettings } {
  return { [SECTION]: settings };
}

/** Only the interpreter needs a new process; every other setting reaches the warm daemon. */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration(`${SECTION}.pythonPath`);
}

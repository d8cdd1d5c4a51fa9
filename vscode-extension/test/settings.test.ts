import { beforeEach, describe, expect, it } from 'vitest';
import { initializationOptions, needsRestart, readSettings } from '../src/settings';
import { configuration, resetMock } from './vscode.mock';

describe('settings', () => {
  beforeEach(resetMock);

  it('sends the defaults when nothing is set', () => {
    expect(initializationOptions(readSettings())).toEqual({
      kernelEval: {
        pythonPath: '',
        evaluateOnSave: true,
        measurePerformance: true,
        device: '',
        numCorrectTrials: 1,
        numPerfTrials: 10,
        atol: null,
        rtol: null,
        timeout: 300,
        references: {},
        trace: { server: 'off' },
      },
    });
  });

  it('sends what the user set, under "kernelEval" like didChangeConfiguration', () => {
    configuration.set('kernelEval.device', 'cuda:1');
    configuration.set('kernelEval.numPerfTrials', 50);
    configuration.set('kernelEval.atol', 0.01);
    configuration.set('kernelEval.evaluateOnSave', false);
    configuration.set('kernelEval.references', { '**/new_*.py': { ref: 'ref.py', refEntryPoint: 'Ref' } });
    configuration.set('kernelEval.trace.server', 'verbose');
    const options = initializationOptions(readSettings());
    expect(options.kernelEval).toMatchObject({
      device: 'cuda:1',
      numPerfTrials: 50,
      atol: 0.01,
      rtol: null,
      evaluateOnSave: false,
      references: { '**/new_*.py': { ref: 'ref.py', refEntryPoint: 'Ref' } },
      trace: { server: 'verbose' },
    });
  });

  it('restarts the daemon only for pythonPath', () => {
    const changed = (key: string) => ({ affectsConfiguration: (section: string) => section === key });
    expect(needsRestart(changed('kernelEval.pythonPath'))).toBe(true);
    for (const key of ['kernelEval.device', 'kernelEval.numPerfTrials', 'kernelEval.references', 'kernelEval.atol']) {
      expect(needsRestart(changed(key))).toBe(false);
    }
  });
});

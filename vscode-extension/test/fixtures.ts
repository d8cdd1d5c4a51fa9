import type { EvalResult, TimingStats } from '../src/result';

function stats(median: number, trials = 10): TimingStats {
  return {
    median_ms: median,
    iqr_ms: median / 100,
    mean_ms: median,
    std_ms: 0,
    min_ms: median,
    max_ms: median,
    trials,
  };
}

/** As the server sends it: the headline and the speedup text are written there (kernel_eval.result). */
export function correctTimed(speedup = 2.3145, speedupText = '2.31×'): EvalResult {
  return {
    verdict: 'correct',
    phase: 'done',
    device: 'cuda:0',
    headline: `✓ correct · ${speedupText} faster (1.23 ms vs 2.86 ms)`,
    speedup_text: speedupText,
    backend: 'triton',
    correctness: { num_trials: 1, num_passed: 1, trials: [{ trial: 0, seed: 42, passed: true, outputs: [] }] },
    timing: {
      reference: stats(1.2345 * speedup),
      custom: stats(1.2345),
      speedup,
      method: 'cuda events',
      meaningful: true,
    },
    messages: [],
  };
}

export function correctUntimed(): EvalResult {
  return { ...correctTimed(), timing: null, headline: '✓ correct', speedup_text: '' };
}

export function flagged(): EvalResult {
  return {
    ...correctTimed(12.8, '12.80×'),
    headline: '⚑ flagged — forward returned a LazyTensor, not a plain torch.Tensor',
    flags: [
      {
        kind: 'output_subclass',
        message: 'forward returned a LazyTensor, not a plain torch.Tensor',
        severity: 'error',
      },
    ],
  };
}

export function incorrect(): EvalResult {
  return {
    verdict: 'incorrect',
    phase: 'check',
    device: 'cpu',
    headline: '✗ incorrect — max abs error 3.0 at [0, 1]',
    speedup_text: '',
    correctness: {
      num_trials: 1,
      num_passed: 0,
      trials: [
        {
          trial: 0,
          seed: 42,
          passed: false,
          outputs: [{ path: 'output', passed: false, reason: 'values', detail: 'max abs error 3.0 at [0, 1]' }],
        },
      ],
    },
    timing: null,
    messages: [],
  };
}

export function buildError(): EvalResult {
  return {
    verdict: 'error',
    phase: 'build',
    device: 'cuda:0',
    headline: "⚠ build error — expected ';' before '}' token",
    speedup_text: '',
    messages: [
      {
        severity: 'error',
        phase: 'build',
        kind: 'compile_error',
        message: "expected ';' before '}' token\nmore text",
        location: { file: '/ws/model_new.py', line: 12, column: 3 },
        hint: 'add the semicolon',
      },
    ],
  };
}

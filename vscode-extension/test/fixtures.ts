import type { EvalResult, Message, OutputComparison, Timing, TimingStats } from '../src/result';

function stats(median: number, trials = 10): TimingStats {
  return {
    median_ms: median,
    iqr_ms: median / 100,
    mean_ms: median,
    std_ms: 0,
    min_ms: median,
    max_ms: median,
    trials,
    ci95_ms: [median, median],
  };
}

/** Every key the server sends (cattrs writes defaults too), for the fixtures below to override. */
function serverResult(overrides: Partial<EvalResult>): EvalResult {
  return {
    verdict: 'correct',
    phase: 'done',
    ref: { file: '/ws/model.py', entry_point: 'Model', class_line: 1, forward_line: 2 },
    custom: { file: '/ws/model_new.py', entry_point: 'ModelNew', class_line: 1, forward_line: 2 },
    device: 'cuda:0',
    schema_version: 2,
    backend: 'unknown',
    correctness: null,
    timing: null,
    messages: [],
    flags: [],
    kernels: {},
    captured_output: {},
    duration_s: 1.5,
    phase_s: {},
    cache_dir: '',
    torch_version: '2.9.0',
    gpu_name: '',
    sandbox: { mode: 'auto', landlock_abi: 0, protections: [] },
    headline: '',
    speedup_text: '',
    status: 'correct',
    ...overrides,
  };
}

function timing(speedup: number): Timing {
  return {
    reference: stats(1.2345 * speedup),
    custom: stats(1.2345),
    speedup,
    method: 'cuda events',
    meaningful: true,
    warmup: 3,
    speedup_ci95: [speedup, speedup],
    figure: 'end_to_end',
    reference_end_to_end: null,
    custom_end_to_end: null,
    end_to_end_speedup: null,
    floor: null,
    fresh_values_s: 0,
  };
}

function compileError(): Message {
  return {
    severity: 'error',
    phase: 'build',
    kind: 'compile_error',
    message: "expected ';' before '}' token\nmore text",
    location: { file: '/ws/model_new.py', line: 12, column: 3, end_line: 0, end_column: 0 },
    hint: 'add the semicolon',
    detail: '',
  };
}

function failedOutput(detail: string): OutputComparison {
  return {
    path: 'output',
    passed: false,
    reason: 'values',
    ref_shape: [2, 2],
    custom_shape: [2, 2],
    ref_dtype: 'float32',
    custom_dtype: 'float32',
    atol: 1e-5,
    rtol: 1e-5,
    numel: 4,
    max_abs_error: 3,
    max_rel_error: 1,
    mismatch_count: 1,
    mismatch_fraction: 0.25,
    worst_index: [0, 1],
    ref_value_at_worst: 1,
    custom_value_at_worst: 4,
    detail,
    method: 'tolerance',
    note: '',
    scale: null,
    ref_error: null,
    custom_error: null,
    allowed_error: null,
    ref_norm_error: null,
    custom_norm_error: null,
    allowed_norm_error: null,
  };
}

/** As the server sends it: the headline, status and speedup text are written there (kernel_eval.result). */
export function correctTimed(speedup = 2.3145, speedupText = '2.31×'): EvalResult {
  return serverResult({
    headline: `✓ correct · ${speedupText} faster (1.23 ms vs 2.86 ms)`,
    speedup_text: speedupText,
    backend: 'triton',
    correctness: {
      num_trials: 1,
      num_passed: 1,
      num_secret_trials: 0,
      trials: [{ trial: 0, seed: 42, passed: true, outputs: [], secret: false }],
    },
    timing: timing(speedup),
  });
}

export function correctUntimed(): EvalResult {
  return { ...correctTimed(), timing: null, headline: '✓ correct', speedup_text: '' };
}

export function flagged(): EvalResult {
  return {
    ...correctTimed(12.8, '12.80×'),
    headline: '⚑ flagged — forward returned a LazyTensor, not a plain torch.Tensor',
    status: 'flagged',
    flags: [
      {
        kind: 'output_subclass',
        message: 'forward returned a LazyTensor, not a plain torch.Tensor',
        severity: 'error',
        location: null,
      },
    ],
  };
}

export function incorrect(): EvalResult {
  return serverResult({
    verdict: 'incorrect',
    status: 'incorrect',
    phase: 'check',
    device: 'cpu',
    headline: '✗ incorrect — max abs error 3.0 at [0, 1]',
    correctness: {
      num_trials: 1,
      num_passed: 0,
      num_secret_trials: 0,
      trials: [
        { trial: 0, seed: 42, passed: false, outputs: [failedOutput('max abs error 3.0 at [0, 1]')], secret: false },
      ],
    },
  });
}

export function buildError(): EvalResult {
  return serverResult({
    verdict: 'error',
    status: 'error',
    phase: 'build',
    headline: "⚠ build error — expected ';' before '}' token",
    messages: [compileError()],
  });
}

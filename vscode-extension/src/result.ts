// The daemon's kernelEval/run result: kernel_eval.result.EvalResult as JSON (daemon/kernel_eval/result.py).

// 'cancelled' comes from the CLI's --json only: the daemon publishes no cancelled evaluation.
export type Verdict = 'correct' | 'incorrect' | 'error' | 'cancelled';
export type Phase = 'load' | 'build' | 'check' | 'time' | 'done';

export interface TimingStats {
  median_ms: number;
  iqr_ms: number;
  mean_ms: number;
  std_ms: number;
  min_ms: number;
  max_ms: number;
  trials: number;
}

export interface Timing {
  reference: TimingStats;
  custom: TimingStats;
  speedup: number;
  method: string;
  meaningful: boolean;
  warmup?: number;
}

export interface Location {
  file: string;
  line: number;
  column: number;
}

export interface Message {
  severity: 'error' | 'warning' | 'info';
  phase: Phase;
  kind: string;
  message: string;
  location?: Location | null;
  hint?: string;
  detail?: string;
}

export interface OutputComparison {
  path: string;
  passed: boolean;
  reason?: string;
  detail?: string;
}

export interface TrialResult {
  trial: number;
  seed: number;
  passed: boolean;
  outputs: OutputComparison[];
}

export interface Correctness {
  num_trials: number;
  num_passed: number;
  trials: TrialResult[];
}

export interface SourceInfo {
  file: string;
  entry_point: string;
}

/** Something that makes the verdict or the speedup untrustworthy (a cheat, a vacuous check, tampered clocks). */
export interface Flag {
  kind: string;
  message: string;
  severity: 'error' | 'warning' | 'info';
}

export interface EvalResult {
  verdict: Verdict;
  phase: Phase;
  device: string;
  /** The one line to show first, written by the server (never re-derived here). */
  headline: string;
  /** The speedup as the server formats it ("2.31×"), "" when not timed. */
  speedup_text: string;
  flags?: Flag[];
  ref?: SourceInfo;
  custom?: SourceInfo;
  backend?: string;
  correctness?: Correctness | null;
  timing?: Timing | null;
  messages?: Message[];
  duration_s?: number;
  torch_version?: string;
  gpu_name?: string;
  /** What confined the custom code; mode "off" ran it with the user's full rights. */
  sandbox?: { mode: 'auto' | 'strict' | 'off' } | null;
}

/** kernelEval/result: a finished evaluation (on save or on request). */
export interface ResultNotification {
  uri: string;
  result: EvalResult;
}

/** kernelEval/evaluating: an evaluation reached `phase` ("cancelled" when it stopped without a result). */
export interface EvaluatingNotification {
  uri: string;
  phase: Phase | 'cancelled';
  message: string;
}

/** kernelEval/run params; everything but customUri overrides the settings for this one run. */
export interface RunParams {
  customUri: string;
  refUri?: string;
  refEntryPoint?: string;
  customEntryPoint?: string;
}

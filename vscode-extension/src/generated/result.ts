// Generated from result.schema.json by `npm run generate:types`; do not edit.
// The schema comes from daemon/kernel_eval/result.py: `python -m kernel_eval.result_schema`.

/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Verdict".
 */
export type Verdict = 'correct' | 'incorrect' | 'error' | 'cancelled';
/**
 * Pipeline stage an evaluation reached (on error: the stage that failed).
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Phase".
 */
export type Phase = 'load' | 'build' | 'check' | 'time' | 'done';
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Backend".
 */
export type Backend = 'cuda_extension' | 'cpp_extension' | 'triton' | 'pytorch' | 'unknown';
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Severity".
 */
export type Severity = 'error' | 'warning' | 'info';
/**
 * What a message is about: a stable tag clients may match on (its text is for people).
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "MessageKind".
 */
export type MessageKind =
  | 'file_not_found'
  | 'not_a_file'
  | 'not_readable'
  | 'not_python'
  | 'not_text'
  | 'bad_device'
  | 'no_such_device'
  | 'no_reference'
  | 'syntax_error'
  | 'import_error'
  | 'missing_entry_point'
  | 'missing_function'
  | 'entry_point_not_callable'
  | 'not_a_module'
  | 'init_arguments'
  | 'init_error'
  | 'reference_error'
  | 'reference_changed'
  | 'build'
  | 'compile_error'
  | 'compile_warning'
  | 'triton_compile_error'
  | 'cuda_unavailable'
  | 'unsafe_build_dir'
  | 'compat_shim'
  | 'weights'
  | 'runtime_error'
  | 'system_exit'
  | 'out_of_memory'
  | 'cuda_error'
  | 'unsupported_output'
  | 'same_inputs'
  | 'timeout'
  | 'crash'
  | 'cancelled'
  | 'timing'
  | 'timing_inputs'
  | 'timing_inconsistent'
  | 'device'
  | 'sandbox'
  | 'sandbox_off'
  | 'sandbox_unavailable'
  | 'sandbox_denied'
  | 'worker_start_failed'
  | 'internal_error'
  | 'batch_error';
/**
 * What the judge caught (docs/exploits.md): a stable tag clients may match on.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "FlagKind".
 */
export type FlagKind =
  | 'vacuous_check'
  | 'output_subclass'
  | 'remembered_result'
  | 'faster_on_seen_values'
  | 'machine_too_busy'
  | 'no_custom_kernel'
  | 'clock_tampered'
  | 'harness_tampered'
  | 'side_stream'
  | 'untimed_work'
  | 'background_thread'
  | 'l2_persistence'
  | 'below_physical_floor'
  | 'host_time';
/**
 * auto: every protection the host allows; strict: refuse to run user code when one is missing; off: none.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "SandboxMode".
 */
export type SandboxMode = 'auto' | 'strict' | 'off';
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "ProtectionState".
 */
export type ProtectionState = 'on' | 'off' | 'unavailable';
/**
 * The verdict as clients show it: a correct result with an error flag is flagged (exit 1).
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Status".
 */
export type Status = 'correct' | 'flagged' | 'incorrect' | 'error' | 'cancelled';

export interface EvalResult {
  verdict: Verdict;
  phase: Phase;
  ref: SourceInfo;
  custom: SourceInfo;
  device: string;
  schema_version: number;
  backend: Backend;
  correctness: Correctness | null;
  timing: Timing | null;
  messages: Message[];
  flags: Flag[];
  kernels: {
    [k: string]: string[] | undefined;
  };
  captured_output: {
    [k: string]: string | undefined;
  };
  duration_s: number;
  phase_s: {
    [k: string]: number | undefined;
  };
  cache_dir: string;
  torch_version: string;
  gpu_name: string;
  sandbox: SandboxRecord | null;
  /**
   * The one line to show first, written by the server (never re-derived by a client).
   */
  headline: string;
  /**
   * The speedup as the server formats it ("2.31×"), "" when not timed.
   */
  speedup_text: string;
  status: Status;
}
/**
 * What the custom file looks like, so clients can anchor lenses and diagnostics.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "SourceInfo".
 */
export interface SourceInfo {
  file: string;
  entry_point: string;
  class_line: number;
  forward_line: number;
}
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Correctness".
 */
export interface Correctness {
  num_trials: number;
  num_passed: number;
  num_secret_trials: number;
  trials: TrialResult[];
}
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "TrialResult".
 */
export interface TrialResult {
  trial: number;
  seed: number;
  passed: boolean;
  outputs: OutputComparison[];
  secret: boolean;
}
/**
 * One leaf of the output structure (path like "output", "output[0]", "output['logits']").
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "OutputComparison".
 */
export interface OutputComparison {
  path: string;
  passed: boolean;
  reason: string;
  ref_shape: number[] | null;
  custom_shape: number[] | null;
  ref_dtype: string;
  custom_dtype: string;
  atol: number;
  rtol: number;
  numel: number;
  max_abs_error: number;
  max_rel_error: number;
  mismatch_count: number;
  mismatch_fraction: number;
  worst_index: number[] | null;
  ref_value_at_worst: number | null;
  custom_value_at_worst: number | null;
  detail: string;
  method: string;
  note: string;
  scale: number | null;
  ref_error: number | null;
  custom_error: number | null;
  allowed_error: number | null;
  ref_norm_error: number | null;
  custom_norm_error: number | null;
  allowed_norm_error: number | null;
}
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Timing".
 */
export interface Timing {
  reference: TimingStats;
  custom: TimingStats;
  speedup: number;
  method: string;
  meaningful: boolean;
  warmup: number;
  speedup_ci95: number[];
  figure: string;
  reference_end_to_end: TimingStats | null;
  custom_end_to_end: TimingStats | null;
  end_to_end_speedup: number | null;
  floor: Floor | null;
  fresh_values_s: number;
}
/**
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "TimingStats".
 */
export interface TimingStats {
  median_ms: number;
  iqr_ms: number;
  mean_ms: number;
  std_ms: number;
  min_ms: number;
  max_ms: number;
  trials: number;
  ci95_ms: number[];
}
/**
 * The least time each side could take: bytes it must move (inputs, parameters, outputs) over the device's measured copy bandwidth. A time below it means work was skipped or done elsewhere.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Floor".
 */
export interface Floor {
  copy_bandwidth_gbs: number;
  reference_bytes: number;
  custom_bytes: number;
  reference_percent: number;
  custom_percent: number;
}
/**
 * An error, warning or note, anchored to a file/line when one is known. kind is a stable machine-readable tag (kinds.py), e.g. syntax_error, compile_error, runtime_error, timeout.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Message".
 */
export interface Message {
  severity: Severity;
  phase: Phase;
  kind: MessageKind;
  message: string;
  location: Location | null;
  hint: string;
  detail: string;
}
/**
 * A place in a user's file (1-based line/column; 0 means unknown).
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Location".
 */
export interface Location {
  file: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
}
/**
 * Something the judge caught that makes the verdict or the speedup untrustworthy (a cheat, a vacuous check, tampered clocks, work that outlives forward). A flag with severity error turns a correct verdict into exit 1. kind is a stable tag (kinds.py), e.g. vacuous_check, output_subclass, clock_tampered (docs/exploits.md).
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Flag".
 */
export interface Flag {
  kind: FlagKind;
  message: string;
  severity: Severity;
  location: Location | null;
}
/**
 * What confined the custom code in this evaluation (README: "The sandbox").
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "SandboxRecord".
 */
export interface SandboxRecord {
  mode: SandboxMode;
  landlock_abi: number;
  protections: Protection[];
}
/**
 * One protection of the sandbox that ran the custom code, e.g. filesystem, network, signals.
 *
 * This interface was referenced by `EvalResult`'s JSON-Schema
 * via the `definition` "Protection".
 */
export interface Protection {
  name: string;
  state: ProtectionState;
  detail: string;
}

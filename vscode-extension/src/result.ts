// The daemon's messages. The result itself, kernel_eval.result.EvalResult as JSON, has types generated from
// daemon/kernel_eval/result.py (src/generated/result.ts: `npm run generate:types`).

export type * from './generated/result';
import type { EvalResult, Phase } from './generated/result';

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

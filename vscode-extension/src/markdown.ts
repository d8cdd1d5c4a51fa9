// Markdown views of a result: the status bar tooltip and the full-result document.
import type { EvalResult, Timing, TimingStats } from './result';

export function formatMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}

function flagLines(result: EvalResult): string[] {
  return result.flags.map((flag) => `- ⚑ **${flag.kind}** (${flag.severity}): ${flag.message}`);
}

function timingRow(side: string, stats: TimingStats): string {
  return `| ${side} | ${formatMs(stats.median_ms)} | ${formatMs(stats.iqr_ms)} | ${stats.trials} |`;
}

export function timingTable(timing: Timing): string {
  return [
    '| | median | IQR | trials |',
    '|---|---:|---:|---:|',
    timingRow('reference', timing.reference),
    timingRow('custom', timing.custom),
  ].join('\n');
}

/** The status bar tooltip: verdict, timing table, device, and a caveat when timings mean little. */
export function tooltipMarkdown(result: EvalResult): string {
  const parts = [`**${result.headline}**`];
  const flags = flagLines(result);
  if (flags.length > 0) {
    parts.push(flags.join('\n'));
  }
  if (result.timing) {
    parts.push(timingTable(result.timing));
  }
  const backend = result.backend !== 'unknown' ? ` · ${result.backend}` : '';
  parts.push(`Device: \`${result.device || 'unknown'}\`${backend}`);
  if (result.timing && !result.timing.meaningful) {
    parts.push(`_Timings on ${result.device || 'this device'} are not representative of GPU performance._`);
  }
  parts.push('Click for the full result.');
  return parts.join('\n\n');
}

/** The read-only document behind "click the status bar item": everything the daemon returned. */
export function resultDocument(fileName: string, result: EvalResult): string {
  const lines = [`# Kernel Eval: ${fileName}`, '', `**${result.headline}**`, ''];
  const flags = flagLines(result);
  if (flags.length > 0) {
    lines.push('## Flags', '', ...flags, '');
  }
  if (result.timing) {
    lines.push('## Timing', '', timingTable(result.timing), '', `Method: ${result.timing.method}`, '');
  }
  const correctness = result.correctness;
  if (correctness) {
    lines.push('## Correctness', '', `${correctness.num_passed}/${correctness.num_trials} trials passed`);
    for (const trial of correctness.trials.filter((t) => !t.passed)) {
      for (const output of trial.outputs.filter((o) => !o.passed)) {
        lines.push(`- trial ${trial.trial} (seed ${trial.seed}), \`${output.path}\`: ${output.detail}`);
      }
    }
    lines.push('');
  }
  const messages = result.messages;
  if (messages.length > 0) {
    lines.push('## Messages', '');
    for (const m of messages) {
      const where = m.location?.line ? ` (${m.location.file}:${m.location.line})` : '';
      lines.push(`- **${m.severity}** [${m.phase}/${m.kind}]${where}: ${m.message}`);
      if (m.hint) {
        lines.push(`  - Fix: ${m.hint}`);
      }
    }
    lines.push('');
  }
  lines.push('## Raw result', '', '```json', JSON.stringify(result, null, 2), '```', '');
  return lines.join('\n');
}

// Markdown views of a result: the status bar tooltip and the full-result document.
import type { EvalResult, Timing, TimingStats } from './result';

export function formatMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}

/** 2.31×, 0.25×; tiny ratios (a CPU interpreter against PyTorch) keep two significant digits: 0.00043×. */
export function formatSpeedup(speedup: number): string {
  return `${speedup >= 0.1 ? speedup.toFixed(2) : speedup.toPrecision(2)}×`;
}

export function headline(result: EvalResult): string {
  if (result.verdict === 'correct') {
    const timing = result.timing;
    if (!timing) {
      return '✓ correct';
    }
    const direction = timing.speedup >= 1 ? 'faster' : 'slower';
    return `✓ correct · ${formatSpeedup(timing.speedup)} ${direction}`;
  }
  if (result.verdict === 'incorrect') {
    const failing = result.correctness?.trials.find((trial) => !trial.passed);
    const output = failing?.outputs.find((o) => !o.passed);
    return output?.detail ? `✗ incorrect — ${output.detail}` : '✗ incorrect';
  }
  const firstError = result.messages?.find((m) => m.severity === 'error');
  const reason = firstError ? ` — ${firstError.message.split('\n')[0]}` : '';
  return `⚠ ${result.phase} error${reason}`;
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
  const parts = [`**${headline(result)}**`];
  if (result.timing) {
    parts.push(timingTable(result.timing));
  }
  const backend = result.backend && result.backend !== 'unknown' ? ` · ${result.backend}` : '';
  parts.push(`Device: \`${result.device || 'unknown'}\`${backend}`);
  if (result.timing && !result.timing.meaningful) {
    parts.push(`_Timings on ${result.device || 'this device'} are not representative of GPU performance._`);
  }
  parts.push('Click for the full result.');
  return parts.join('\n\n');
}

/** The read-only document behind "click the status bar item": everything the daemon returned. */
export function resultDocument(fileName: string, result: EvalResult): string {
  const lines = [`# Kernel Eval: ${fileName}`, '', `**${headline(result)}**`, ''];
  if (result.timing) {
    lines.push('## Timing', '', timingTable(result.timing), '', `Method: ${result.timing.method}`, '');
  }
  const correctness = result.correctness;
  if (correctness) {
    lines.push('## Correctness', '', `${correctness.num_passed}/${correctness.num_trials} trials passed`);
    for (const trial of correctness.trials.filter((t) => !t.passed)) {
      for (const output of trial.outputs.filter((o) => !o.passed)) {
        lines.push(
          `- trial ${trial.trial} (seed ${trial.seed}), \`${output.path}\`: ${output.detail ?? output.reason ?? ''}`,
        );
      }
    }
    lines.push('');
  }
  const messages = result.messages ?? [];
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

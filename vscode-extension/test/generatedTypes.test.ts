import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXTENSION = fileURLToPath(new URL('..', import.meta.url));

describe('generated result types', () => {
  it('match the checked-in result schema (else run `npm run generate:types`)', () => {
    const regenerated = execFileSync(process.execPath, ['generate-types.mjs', '--print'], {
      cwd: EXTENSION,
      encoding: 'utf8',
    });
    const checkedIn = readFileSync(new URL('../src/generated/result.ts', import.meta.url), 'utf8');
    expect(checkedIn, 'src/generated/result.ts is stale: run `npm run generate:types`').toBe(regenerated);
  });
});

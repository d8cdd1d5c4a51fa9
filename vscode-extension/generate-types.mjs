// Writes src/generated/result.ts, the result types, from src/generated/result.schema.json (which
// `python -m kernel_eval.result_schema` writes from daemon/kernel_eval/result.py). With --print, prints them instead.
import { readFile, writeFile } from 'node:fs/promises';
import { compile } from 'json-schema-to-typescript';

const SCHEMA = new URL('./src/generated/result.schema.json', import.meta.url);
const TYPES = new URL('./src/generated/result.ts', import.meta.url);
const BANNER = `// Generated from result.schema.json by \`npm run generate:types\`; do not edit.
// The schema comes from daemon/kernel_eval/result.py: \`python -m kernel_eval.result_schema\`.`;

async function resultTypes() {
  const schema = JSON.parse(await readFile(SCHEMA, 'utf8'));
  return compile(schema, 'EvalResult', {
    bannerComment: BANNER,
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    style: { printWidth: 120, singleQuote: true },
  });
}

const types = await resultTypes();
if (process.argv.includes('--print')) {
  process.stdout.write(types);
} else {
  await writeFile(TYPES, types);
  console.log(`wrote ${TYPES.pathname}`);
}

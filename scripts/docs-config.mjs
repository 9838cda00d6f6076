// `npm run docs:config`: write docs/CONFIGURATION.md from the documentation the configuration
// schemas carry (src/config/schema.ts, rendered by src/config/reference.ts; run after tsc).
import { writeFileSync } from 'node:fs';

const { configurationReference } = await import(new URL('../dist/config/reference.js', import.meta.url).href);
const out = new URL('../docs/CONFIGURATION.md', import.meta.url);
writeFileSync(out, configurationReference());
process.stdout.write(`wrote ${out.pathname}\n`);

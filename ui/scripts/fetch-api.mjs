// Copies a running server's /openapi.json to ui/openapi.json byte for byte.
// HEARTH_URL (default http://127.0.0.1:7337) and HEARTH_TOKEN.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.env.HEARTH_URL || 'http://127.0.0.1:7337';
const headers = process.env.HEARTH_TOKEN ? { authorization: `Bearer ${process.env.HEARTH_TOKEN}` } : {};
const res = await fetch(new URL('/openapi.json', base), { headers });
if (!res.ok) {
  console.error(`GET ${base}/openapi.json: ${res.status} ${await res.text()}`);
  process.exit(1);
}
const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');
writeFileSync(file, Buffer.from(await res.arrayBuffer()));
console.log(`wrote ${file}`);

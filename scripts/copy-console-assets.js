// The activation service's console ships two static files that tsc does not emit: copies them
// from services/activation/src/console to dist/console. Run by `npm run build` and the Dockerfile.
import { copyFileSync, mkdirSync } from 'node:fs';
import { URL } from 'node:url';

const from = new URL('../services/activation/src/console/', import.meta.url);
const to = new URL('../services/activation/dist/console/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const name of ['app.js', 'app.css']) copyFileSync(new URL(name, from), new URL(name, to));

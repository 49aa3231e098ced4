import { readFileSync } from 'node:fs';

/** The version in package.json, found from src/server or dist/server alike. */
export const PITCREW_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/**
 * Loads uWebSockets.js and refuses the slow `ws`-based imitation that the npm republish
 * silently falls back to when its native binary cannot load.
 */
import { createRequire } from 'node:module';
import type * as UwsModule from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  override name = 'UwsFallbackError';
}

export function loadUws(): typeof UwsModule {
  if (process.env.UWS_USE_FALLBACK) {
    throw new UwsFallbackError('UWS_USE_FALLBACK is set: refusing to run on the slow ws-based fallback; unset it');
  }
  const uws = require('uWebSockets.js') as typeof UwsModule;
  const native = Object.keys(require.cache).some((k) => /uWebSockets\.js[\\/]binaries[\\/].*\.node$/.test(k) || /uws_[a-z0-9_]+\.node$/.test(k));
  if (!native) {
    throw new UwsFallbackError(
      `uWebSockets.js could not load its native binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} ` +
        '(see the warning above) and fell back to a slow imitation: refusing to start. Use Node 20 on glibc >= 2.27, ' +
        'or install the upstream tag (docs/operations.md, "uWebSockets.js").',
    );
  }
  return uws;
}

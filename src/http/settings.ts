/**
 * The user's own settings (issue 15): `GET`/`PUT /api/v1/me/settings` with `{presence: boolean}`.
 * `presence: false` hides the user's presence from their DM peers and theirs from the user
 * (reciprocal). Stored in Postgres (migration 006); a change reaches every edge's cache at once
 * and the user's peers as a `presence` frame.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { requireJson } from '../../protocol/json-body.ts';
import { parseBody } from '../../protocol/schema.ts';
import { SETTINGS_BODY_MAX_BYTES } from '../config.ts';
import { PresenceTables } from '../persist/presence.ts';
import type { PresenceService } from '../presence/service.ts';
import { authenticate, route, type HttpDeps } from './routes.ts';
import { Settings } from './schemas.ts';

export interface SettingsDeps extends HttpDeps {
  presence?: PresenceService;
}

export function registerSettings(app: TemplatedApp, d: SettingsDeps): void {
  const tables = new PresenceTables(d.pool);
  app.get(
    '/api/v1/me/settings',
    route(d.log, async ({ auth, query }) => {
      const p = await authenticate(d.verifier, auth, query);
      return { status: 200, body: await tables.settings(p.sub) };
    }),
  );
  app.put(
    '/api/v1/me/settings',
    route(d.log, async ({ auth, query, headers, body }) => {
      const p = await authenticate(d.verifier, auth, query);
      requireJson(headers['content-type']);
      const b = parseBody(Settings, body);
      if (typeof b.presence === 'boolean') {
        const before = await tables.settings(p.sub);
        await tables.setPresence(p.sub, b.presence, Date.now());
        if (before.presence !== b.presence) {
          // Stored first: a failed announcement leaves peers to the next change or conv reply.
          await d.presence?.settingChanged(p.sub, b.presence).catch((e: unknown) => d.log.warn({ err: e }, 'presence setting announcement failed'));
        }
      }
      return { status: 200, body: await tables.settings(p.sub) };
    }, { body: true, headers: ['content-type'], bodyMaxBytes: SETTINGS_BODY_MAX_BYTES }),
  );
}

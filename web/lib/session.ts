/// <reference lib="dom" />
/**
 * Where a page's token comes from: `?token=` (then dropped from the address bar), the tab's
 * sessionStorage, the sign-in form, or — when the node runs in dev mode — a user picker that
 * asks `GET /api/v1/dev/token`. The pages do not probe that route on load: outside dev mode it
 * does not exist, and the probe's 404 was logged on every page load. It is asked only when the
 * user picks the developer sign-in.
 */

export function tokenFromPage(storageKey: string): string | undefined {
  const url = new URL(location.href);
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) {
    sessionStorage.setItem(storageKey, fromQuery);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromQuery;
  }
  return sessionStorage.getItem(storageKey) ?? undefined;
}

export function saveToken(storageKey: string, token: string): void {
  sessionStorage.setItem(storageKey, token);
}

export function forgetToken(storageKey: string): void {
  sessionStorage.removeItem(storageKey);
}

export async function devToken(sub: string, roles = 'user'): Promise<string> {
  const r = await fetch(`/api/v1/dev/token?sub=${encodeURIComponent(sub)}&roles=${encodeURIComponent(roles)}`);
  if (r.status === 404) throw new Error('This node does not mint dev tokens (it has a JWT configuration): sign in with a token.');
  const body = (await r.json()) as { token?: string; message?: string };
  if (!r.ok || !body.token) throw new Error(body.message ?? `dev token: HTTP ${r.status}`);
  return body.token;
}

/** The `sub` claim, for display only (the server verifies the token). */
export function subjectOf(token: string): string | undefined {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return (JSON.parse(atob(payload)) as { sub?: string }).sub;
  } catch {
    return undefined;
  }
}

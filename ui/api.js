// The public API client: HTTP Basic with the key pair kept in sessionStorage (this tab only).

const KEY = 'spyglass.auth';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getAuth() {
  try {
    const auth = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return auth && auth.publicKey && auth.secretKey ? auth : null;
  } catch {
    return null;
  }
}

export function clearAuth() {
  sessionStorage.removeItem(KEY);
}

function basic(publicKey, secretKey) {
  const bytes = new TextEncoder().encode(`${publicKey}:${secretKey}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** Query params: arrays repeat the key; empty values are left out. */
export function query(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item !== null && item !== undefined && item !== '') qs.append(k, String(item));
    }
  }
  return qs;
}

export async function api(path, params, { signal, auth = getAuth() } = {}) {
  if (!auth) throw new ApiError(401, 'Please sign in with an API key pair.');
  const qs = query(params).toString();
  let resp;
  try {
    resp = await fetch(qs ? `${path}?${qs}` : path, {
      headers: { Authorization: basic(auth.publicKey, auth.secretKey), Accept: 'application/json' },
      credentials: 'omit',
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, `Network error: ${err.message}`);
  }
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!resp.ok) {
    const message = body && typeof body === 'object' && typeof body.message === 'string'
      ? body.message : `${resp.status} ${resp.statusText}`;
    throw new ApiError(resp.status, message, body);
  }
  return body;
}

/** Validates a key pair with GET /api/public/projects and keeps it for this tab. */
export async function signIn(publicKey, secretKey) {
  const auth = { publicKey: publicKey.trim(), secretKey: secretKey.trim() };
  const body = await api('/api/public/projects', null, { auth });
  const project = body && Array.isArray(body.data) ? body.data[0] : null;
  if (!project) throw new ApiError(403, 'This key has no project.');
  const stored = { ...auth, projectId: project.id, projectName: project.name || project.id };
  sessionStorage.setItem(KEY, JSON.stringify(stored));
  return stored;
}

/** Resolves a media reference to its (short-lived) download URL. */
export function mediaInfo(id, signal) {
  return api(`/api/public/media/${encodeURIComponent(id)}`, null, { signal });
}

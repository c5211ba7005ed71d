// Pure formatting helpers (no DOM), shared by every view.

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

/** Milliseconds since the epoch for an ISO string, or null. */
export function ms(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

export function fmtTime(iso) {
  const t = ms(iso);
  return t === null ? '—' : dateTime.format(t);
}

/** A duration in milliseconds, short: 840ms, 1.24s, 3m 05s, 2h 01m. */
export function fmtDuration(millis) {
  if (millis === null || millis === undefined || !Number.isFinite(millis) || millis < 0) return '—';
  if (millis === 0) return '0';
  if (millis < 1) return `${millis.toFixed(2)}ms`;
  if (millis < 1000) return `${Math.round(millis)}ms`;
  const s = millis / 1000;
  if (s < 60) return `${s.toFixed(2)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Latency in seconds as the API reports it; the list's -1 placeholder means "not computed". */
export function fmtSeconds(seconds) {
  return typeof seconds === 'number' && seconds >= 0 ? fmtDuration(seconds * 1000) : '—';
}

/** USD with enough digits to see sub-cent model costs. */
export function fmtCost(usd) {
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) return '—';
  if (usd === 0) return '$0';
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  const digits = Math.min(10, 3 - Math.floor(Math.log10(usd)));
  return `$${usd.toFixed(digits).replace(/0+$/, '')}`;
}

export function fmtInt(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—';
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function shortId(id) {
  const s = String(id ?? '');
  return s.length > 14 ? `${s.slice(0, 8)}…${s.slice(-4)}` : s;
}

/** A score's display value: the label for categorical/boolean, else the number. */
export function scoreValue(score) {
  if (score.dataType && score.dataType !== 'NUMERIC' && score.stringValue) return score.stringValue;
  if (typeof score.value === 'number') return Number.isInteger(score.value) ? String(score.value) : score.value.toFixed(3);
  return String(score.stringValue ?? score.value ?? '');
}

/** Splits a string at Langfuse media references (`@@@langfuseMedia:type=…|id=…|source=…@@@`). */
export function splitMedia(text) {
  const out = [];
  const re = /@@@langfuseMedia:(.*?)@@@/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const fields = {};
    for (const part of m[1].split('|')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
    }
    out.push(fields.id ? { media: fields } : m[0]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Only http(s) URLs may become links (a `javascript:` URL from the API must never be clickable). */
export function safeUrl(raw) {
  try {
    const url = new URL(String(raw), globalThis.location?.href ?? 'http://localhost/');
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

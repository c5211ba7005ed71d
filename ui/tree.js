// The observation tree of one trace: built in O(n) (plus one sort by start time), flattened into
// the rows a virtualized list shows. No DOM here, so it runs (and is tested) under Node too.

import { ms } from './format.js';

export const TYPES = ['SPAN', 'GENERATION', 'EVENT', 'AGENT', 'TOOL', 'CHAIN', 'RETRIEVER',
  'EVALUATOR', 'EMBEDDING', 'GUARDRAIL'];

/** A CSS-safe type key: one of TYPES, else OTHER. */
export function typeKey(type) {
  return TYPES.includes(type) ? type : 'OTHER';
}

function makeNode(id, type, name, obs, start, end, level) {
  return {
    id, type, name, obs, start, end, level,
    parent: null, children: [], depth: 0, open: true,
    errors: level === 'ERROR' ? 1 : 0, warnings: level === 'WARNING' ? 1 : 0, size: 1,
    left: 0, width: 0, orphan: false, pos: 1,
  };
}

/**
 * Builds the tree of `trace.observations` by parentObservationId under a root node for the trace.
 * Observations whose parent is missing (or that sit in a parent cycle) hang off the root, with
 * `orphan` set to 'missing' (or 'cycle'). Returns {root, nodes (pre-order, root first), byId, start, end, maxDepth}.
 */
export function buildTree(trace) {
  const list = Array.isArray(trace.observations) ? trace.observations : [];
  const nodes = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const o = list[i];
    nodes[i] = makeNode(String(o.id), o.type || 'SPAN', o.name || o.type || 'observation', o,
      ms(o.startTime), ms(o.endTime), o.level || 'DEFAULT');
  }
  nodes.sort((a, b) => (a.start ?? Infinity) - (b.start ?? Infinity));

  const traceStart = ms(trace.timestamp);
  const root = makeNode(String(trace.id), 'TRACE', trace.name || 'trace', null, traceStart, null, 'DEFAULT');
  const byId = new Map();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  for (const n of nodes) {
    const pid = n.obs.parentObservationId;
    const parent = pid && pid !== n.id ? byId.get(pid) : undefined;
    n.parent = parent || root;
    n.orphan = pid && !parent ? 'missing' : false;
    n.parent.children.push(n);
  }

  // Pre-order walk from the root; whatever it misses sits in a parent cycle and is re-hung.
  const order = [];
  const seen = new Set();
  const walk = (start) => {
    const stack = [start];
    while (stack.length) {
      const n = stack.pop();
      if (seen.has(n)) continue;
      seen.add(n);
      order.push(n);
      for (let i = n.children.length - 1; i >= 0; i--) {
        const c = n.children[i];
        c.depth = n.depth + 1;
        stack.push(c);
      }
    }
  };
  root.depth = 0;
  walk(root);
  if (order.length < nodes.length + 1) {
    for (const n of nodes) {
      if (seen.has(n)) continue;
      const siblings = n.parent.children;
      siblings.splice(siblings.indexOf(n), 1);
      n.parent = root;
      n.orphan = 'cycle';
      root.children.push(n);
      n.depth = 1;
      walk(n);
    }
  }

  // Time extent, then per-node bar geometry and subtree aggregates (reverse pre-order = post-order).
  let start = traceStart ?? Infinity;
  let end = -Infinity;
  for (const n of nodes) {
    if (n.start !== null) start = Math.min(start, n.start);
    const e = n.end ?? n.start;
    if (e !== null) end = Math.max(end, e);
  }
  if (!Number.isFinite(start)) start = 0;
  if (!Number.isFinite(end) || end < start) end = start;
  root.start = start;
  root.end = end;
  const span = Math.max(end - start, 1);
  let maxDepth = 0;
  for (const n of order) for (let i = 0; i < n.children.length; i++) n.children[i].pos = i + 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    if (n.depth > maxDepth) maxDepth = n.depth;
    const s = n.start ?? start;
    const e = n.end ?? s;
    n.left = ((s - start) / span) * 100;
    n.width = Math.max(((e - s) / span) * 100, 0);
    if (n.parent) {
      n.parent.errors += n.errors;
      n.parent.warnings += n.warnings;
      n.parent.size += n.size;
    }
  }
  return { root, nodes: order, byId, start, end, maxDepth };
}

/** The rows to show: pre-order over open nodes; with a `match` set, only those (all open). */
export function visibleRows(root, match = null) {
  const out = [];
  const stack = [root];
  while (stack.length) {
    const n = stack.pop();
    if (match && !match.has(n)) continue;
    out.push(n);
    if (n.open || match) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
  return out;
}

/** Nodes whose name, type, id, model or level contains `query` (case-insensitive), plus their ancestors. */
export function matchNodes(nodes, query) {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  const keep = new Set();
  for (const n of nodes) {
    const o = n.obs || {};
    const hay = `${n.name}\u0000${n.type}\u0000${n.id}\u0000${o.model || ''}\u0000${n.level}`.toLowerCase();
    if (!hay.includes(q)) continue;
    for (let a = n; a && !keep.has(a); a = a.parent) keep.add(a);
  }
  return keep;
}

export function setOpen(nodes, open) {
  for (const n of nodes) n.open = open;
}

/** Opens every ancestor of `node`, so it shows up in visibleRows. */
export function reveal(node) {
  for (let a = node.parent; a; a = a.parent) a.open = true;
}

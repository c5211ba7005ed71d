"""The UI's JavaScript: it parses, its imports resolve, it has no HTML sinks, and the tree logic
(run under Node) is right and fast on a 10,000-observation trace."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from spyglass.ui import STATIC_DIR

JS_FILES = sorted(STATIC_DIR.glob("*.js"))  # tests that run them take `node` (tests/ui/conftest.py)


@pytest.fixture
def esm_dir(tmp_path: Path) -> Path:
    """A copy of the UI modules that Node loads as ES modules."""
    for f in JS_FILES:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    return tmp_path


def test_there_are_modules() -> None:
    assert {"app.js", "trace.js", "tree.js", "json.js", "api.js"} <= {f.name for f in JS_FILES}


@pytest.mark.parametrize("name", [f.name for f in JS_FILES])
def test_js_parses(node: str, esm_dir: Path, name: str) -> None:
    result = subprocess.run([node, "--check", str(esm_dir / name)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_imports_resolve_to_shipped_files() -> None:
    for f in JS_FILES:
        for spec in re.findall(r"""^\s*import\s[^'"]*from\s+['"]([^'"]+)['"]""", f.read_text(), re.M):
            assert spec.startswith("./"), f"{f.name} imports {spec!r}: only relative imports of shipped files"
            assert (STATIC_DIR / spec[2:]).is_file(), f"{f.name} imports missing {spec}"


def test_every_module_is_preloaded_by_the_shell() -> None:
    shell = (STATIC_DIR / "index.html").read_text()
    for f in JS_FILES:
        assert f'"/ui/{f.name}"' in shell, f"{f.name} is neither the entry point nor preloaded"


@pytest.mark.parametrize(
    "sink", ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser"]
)
def test_no_html_sinks(sink: str) -> None:
    """I/O is untrusted: it must only ever reach the page as text."""
    offenders = [f.name for f in JS_FILES if sink in f.read_text()]
    assert offenders == []


TREE_SCRIPT = textwrap.dedent(
    """
    import { buildTree, visibleRows, matchNodes, setOpen } from './tree.js';
    import { fmtCost, fmtDuration, splitMedia, safeUrl } from './format.js';
    const N = 10000, t0 = Date.parse('2026-01-01T00:00:00Z'), obs = [];
    for (let i = 0; i < N; i++) obs.push({
      id: 'o' + i, type: i % 3 ? 'SPAN' : 'GENERATION', name: 'step ' + i, level: i % 1000 === 7 ? 'ERROR' : 'DEFAULT',
      startTime: new Date(t0 + i).toISOString(), endTime: new Date(t0 + i + 50).toISOString(),
      parentObservationId: i < 10 ? null : 'o' + Math.floor(i / 10) });
    obs.reverse();  // the API's order must not matter
    const late = new Date(t0 + 20000).toISOString();
    obs.push({ id: 'orphan', name: 'lost', startTime: late, parentObservationId: 'gone' });
    obs.push({ id: 'a', parentObservationId: 'b' }, { id: 'b', parentObservationId: 'a' });
    const started = performance.now();
    const m = buildTree({ id: 't', name: 'trace', timestamp: new Date(t0).toISOString(), observations: obs });
    const buildMs = performance.now() - started;
    const rows = visibleRows(m.root);
    const o1 = m.byId.get('o1');
    setOpen(m.nodes, false); m.root.open = true;
    const collapsed = visibleRows(m.root).length;
    const hits = matchNodes(m.nodes, 'step 4321');
    console.log(JSON.stringify({
      buildMs, nodes: m.nodes.length, rows: rows.length, rootErrors: m.root.errors,
      rootKids: m.root.children.map(n => n.id).slice(0, 3), o1Kids: o1.children.map(n => n.id).slice(0, 3),
      o1Depth: o1.depth, deep: m.byId.get('o4321').depth,
      preorderOk: rows[1].id === 'o0' && rows[2].id === 'o1' && rows[3].id === 'o10',
      orphan: m.byId.get('orphan').orphan === 'missing' && m.byId.get('orphan').parent === m.root,
      cycleMark: [m.byId.get('a').orphan, m.byId.get('b').orphan].map(String).sort(),
      cycle: [m.byId.get('a').depth > 0, m.byId.get('b').depth > 0], collapsed,
      hits: [...hits].map(n => n.id).sort(), end: m.end - m.start,
      fmt: [fmtCost(0.00123), fmtCost(0), fmtDuration(1234), fmtDuration(0.5), fmtDuration(65000)],
      media: splitMedia('see @@@langfuseMedia:type=image/png|id=abc|source=bytes@@@!'),
      urls: [safeUrl('javascript:alert(1)'), safeUrl('data:text/html,x'), safeUrl('https://s3.example/x?sig=1')],
    }));
    """
)


def test_tree_logic_on_ten_thousand_observations(node: str, esm_dir: Path) -> None:
    (esm_dir / "check.js").write_text(TREE_SCRIPT)
    result = subprocess.run([node, str(esm_dir / "check.js")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["nodes"] == 10_000 + 3 + 1  # observations + orphan + the cycle pair + the trace root
    assert out["rows"] == out["nodes"]  # everything open by default
    assert out["preorderOk"]
    assert out["rootKids"] == ["o0", "o1", "o2"]  # sorted by start time, whatever the API's order
    assert out["o1Kids"] == ["o10", "o11", "o12"]
    assert (out["o1Depth"], out["deep"]) == (1, 4)  # o4321 → o432 → o43 → o4
    assert out["rootErrors"] == 10  # error counts bubble up to the root
    assert out["orphan"] is True
    assert out["cycle"] == [True, True]  # a parent cycle is broken, not dropped
    assert out["cycleMark"] == ["cycle", "false"]  # one member is re-hung under the root, the other stays
    assert out["collapsed"] == 13  # root, o0..o9, the orphan, the cycle re-hung by one member
    assert out["hits"] == ["o4", "o43", "o432", "o4321", "t"]  # a match keeps its ancestors
    assert out["end"] == 20_000  # the orphan starts last
    assert out["fmt"] == ["$0.00123", "$0", "1.23s", "0.50ms", "1m 05s"]
    assert out["media"] == ["see ", {"media": {"type": "image/png", "id": "abc", "source": "bytes"}}, "!"]
    assert out["urls"] == [None, None, "https://s3.example/x?sig=1"]
    assert out["buildMs"] < 1500, "building the tree must stay linear-time"


def test_static_payload_stays_small() -> None:
    """A guard against bloat (a vendored framework, a bundled font): the whole UI stays a few
    hand-written files, about 70 KB as written and under 25 KB gzipped on the wire."""
    files = [p for p in STATIC_DIR.iterdir() if p.suffix in {".js", ".css", ".html", ".svg"}]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    assert raw < 80_000, f"UI is {raw} bytes; keep it small (no frameworks, no build step)"
    assert packed < 30_000, f"UI is {packed} bytes gzipped"

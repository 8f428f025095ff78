"""The dashboard's one stylesheet, served as a file under the mount (`static/dashboard.css`).

A file, not a `<style>` block: a host site with `Content-Security-Policy: default-src 'self'`
loads it without 'unsafe-inline'. Kept as a constant so it ships with the package code.
"""

from __future__ import annotations

import hashlib

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2329; background: #f6f7f9; }
header { background: #1d3557; color: #fff; padding: .75rem 1rem; }
header h1 { font-size: 1.2rem; margin: 0; }
header a { color: #fff; }
nav.crumbs { font-size: .9rem; margin-top: .25rem; }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
form.picker { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end;
              background: #fff; padding: .75rem; border: 1px solid #dde1e6;
              border-radius: 6px; margin-bottom: 1rem; }
form.picker label { display: flex; flex-direction: column; font-size: .85rem; color: #444; }
form.picker input, form.picker select, form.picker button { font: inherit; padding: .3rem .4rem;
              min-height: 2.2rem; }
form.picker button { background: #1d3557; color: #fff; border: 0; border-radius: 4px;
              padding: .3rem 1rem; cursor: pointer; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; margin-bottom: 1rem; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .6rem 1rem;
        min-width: 10rem; }
.card .value { font-size: 1.6rem; font-weight: 600; }
.card .change { color: #555; font-size: .85rem; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .75rem;
          margin-bottom: 1rem; min-width: 0; }
.scroll { overflow-x: auto; }
.scroll:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
details { margin-top: .5rem; }
summary { cursor: pointer; padding: .25rem 0; }
section h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr)); gap: 1rem; }
.chart-narrow { display: none; }
.grid section { margin-bottom: 0; }
figure { margin: 0; }
svg.cw-chart { width: 100%; max-width: 100%; height: auto; }
svg text { fill: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid #eceef1; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { overflow-wrap: break-word; }
.notes { color: #555; font-size: .85rem; padding-left: 1.2rem; }
.error { background: #fdecea; border: 1px solid #f5c2bd; color: #7a1c12; padding: .75rem;
         border-radius: 6px; margin-bottom: 1rem; }
.muted { color: #666; }
.notice { background: #fff8e1; border: 1px solid #f0d98c; padding: .75rem; border-radius: 6px;
          margin-bottom: 1rem; }
@media (max-width: 40rem) {
  main { padding: .5rem; }
  form.picker label, form.picker button { flex: 1 1 45%; }
  .card { flex: 1 1 45%; min-width: 0; }
  .grid { grid-template-columns: 1fr; }
  .chart-wide { display: none; }
  .chart-narrow { display: block; }
}
""".lstrip()

CSS_BYTES = CSS.encode()
CSS_ETAG = '"' + hashlib.sha256(CSS_BYTES).hexdigest()[:16] + '"'

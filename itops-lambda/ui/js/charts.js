// The incident's telemetry: a small SVG line chart per series, with the workflow's markers
// (approval, actions) as dashed vertical lines.

import { h, svg } from './dom.js';
import { fmtClock, fmtNumber, fmtTime } from './format.js';

export function metricsBody(m) {
  const services = m?.services || [];
  if (!services.length) return h('p', { class: 'muted' }, 'No metrics for the affected services.');
  const from = Date.parse(m.from);
  const to = Date.parse(m.to);
  const markers = (m.markers || []).map((k) => ({ at: Date.parse(k.at), label: String(k.label || '') })).filter((k) => Number.isFinite(k.at));
  const legend = markers.length
    ? h('div', { class: 'legend' }, markers.map((k) =>
      h('span', {}, h('span', { class: `sw${k.label.startsWith('action') ? ' action' : ''}` }), `${k.label} ${fmtClock(new Date(k.at).toISOString())}`)))
    : null;
  return h('div', { class: 'charts' }, legend, services.map((s) => h('div', { class: 'chart-service' },
    h('h3', {}, s.service),
    h('div', { class: 'chart-grid' }, (s.series || []).map((series) => lineChart(series, from, to, markers))))));
}

/** A small line chart of one series, with the markers as dashed vertical lines. */
function lineChart(series, from, to, markers) {
  const W = 260;
  const H = 86;
  const left = 36;
  const right = 6;
  const top = 6;
  const bottom = 14;
  const points = (series.points || [])
    .filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]))
    .sort((a, b) => a[0] - b[0]);
  let x0 = Number.isFinite(from) ? from : (points[0]?.[0] ?? 0);
  let x1 = Number.isFinite(to) ? to : (points[points.length - 1]?.[0] ?? 1);
  if (x1 <= x0) x1 = x0 + 1;
  let y0 = Math.min(...points.map((p) => p[1]));
  let y1 = Math.max(...points.map((p) => p[1]));
  if (!points.length) { y0 = 0; y1 = 1; }
  if (y1 - y0 < 1e-9) { const pad = Math.abs(y1) * 0.1 || 1; y0 -= pad; y1 += pad; }
  if (y0 > 0 && y0 < (y1 - y0) * 0.5) y0 = 0;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (W - left - right);
  const py = (y) => top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom);
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join('');
  const area = points.length
    ? `${line}L${px(points[points.length - 1][0]).toFixed(1)},${H - bottom}L${px(points[0][0]).toFixed(1)},${H - bottom}Z`
    : '';
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${series.name} chart` },
    svg('line', { class: 'grid', x1: left, x2: W - right, y1: top, y2: top }),
    svg('line', { class: 'grid', x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }),
    svg('text', { class: 'axis', x: left - 3, y: top + 7, 'text-anchor': 'end' }, fmtNumber(y1)),
    svg('text', { class: 'axis', x: left - 3, y: H - bottom, 'text-anchor': 'end' }, fmtNumber(y0)),
    svg('text', { class: 'axis', x: left, y: H - 2 }, fmtClock(new Date(x0).toISOString())),
    svg('text', { class: 'axis', x: W - right, y: H - 2, 'text-anchor': 'end' }, fmtClock(new Date(x1).toISOString())),
    area ? svg('path', { class: 'area', d: area }) : null,
    line ? svg('path', { class: 'line', d: line }) : null,
    markers.filter((k) => k.at >= x0 && k.at <= x1).map((k) =>
      svg('line', { class: `marker${k.label.startsWith('action') ? ' action' : ''}`, x1: px(k.at), x2: px(k.at), y1: top, y2: H - bottom },
        svg('title', {}, `${k.label} at ${fmtTime(new Date(k.at).toISOString())}`))));
  const latest = points.length ? points[points.length - 1][1] : null;
  return h('figure', { class: 'chart' },
    h('figcaption', {}, h('span', {}, series.name), h('span', { class: 'latest' }, `${fmtNumber(latest)} ${series.unit || ''}`.trim())),
    points.length ? chart : h('p', { class: 'muted small' }, 'no samples'));
}

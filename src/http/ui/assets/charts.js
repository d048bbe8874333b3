// Hand-drawn SVG charts for the last hour (60 one-minute buckets): no chart library.

import { s } from './dom.js';


function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

function frame(W, height, max, unit) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img' });
  const top = 8;
  const bottom = height - 18;
  for (const f of [0, 0.5, 1]) {
    const y = bottom - (bottom - top) * f;
    svg.append(s('line', { class: 'grid', x1: 34, x2: W, y1: y, y2: y }));
    svg.append(s('text', { class: 'axis', x: 30, y: y + 3, 'text-anchor': 'end' }, fmt(max * f)));
  }
  svg.append(s('text', { class: 'axis', x: 34, y: height - 4 }, '60 min ago'));
  svg.append(s('text', { class: 'axis', x: W / 2 + 17, y: height - 4, 'text-anchor': 'middle' }, '30 min'));
  svg.append(s('text', { class: 'axis', x: W, y: height - 4, 'text-anchor': 'end' }, `now · ${unit}`));
  return { svg, top, bottom, x: (i, n) => 34 + ((W - 34) * i) / n };
}

/** Bars of `values` (errors drawn over them in red) and an optional latency line. */
export function barChart({ values, errors, line, width = 380, height = 130, unit }) {
  const W = width;
  const max = niceMax(Math.max(...values, 0.0001));
  const { svg, top, bottom, x } = frame(W, height, max, unit);
  const n = values.length;
  const bw = Math.max(1, (W - 34) / n - 2);
  const y = (v) => bottom - ((bottom - top) * v) / max;
  values.forEach((v, i) => {
    if (v > 0) svg.append(s('rect', { class: 'calls', x: x(i, n) + 1, y: y(v), width: bw, height: bottom - y(v), rx: 1.5 }));
    const e = errors ? errors[i] : 0;
    if (e > 0) svg.append(s('rect', { class: 'errors', x: x(i, n) + 1, y: y(e), width: bw, height: Math.max(1.5, bottom - y(e)), rx: 1.5 }));
  });
  if (line && line.some((v) => v > 0)) {
    const lmax = niceMax(Math.max(...line));
    const ly = (v) => bottom - ((bottom - top) * v) / lmax;
    const pts = line.map((v, i) => `${x(i, n) + bw / 2 + 1},${ly(v)}`).join(' ');
    svg.append(s('polyline', { class: 'latency', points: pts }));
    svg.append(s('text', { class: 'axis', x: W - 2, y: top + 9, 'text-anchor': 'end' }, `latency max ${fmt(lmax)} ms`));
  }
  return svg;
}

/** A filled line of `values`. */
export function areaChart({ values, width = 1000, height = 170, unit }) {
  const max = niceMax(Math.max(...values, 0.0001));
  const { svg, top, bottom, x } = frame(width, height, max, unit);
  const n = values.length - 1 || 1;
  const y = (v) => bottom - ((bottom - top) * v) / max;
  const pts = values.map((v, i) => `${x(i, n)},${y(v)}`);
  svg.append(s('path', { class: 'area', d: `M${x(0, n)},${bottom} L${pts.join(' L')} L${x(n, n)},${bottom} Z` }));
  return svg;
}

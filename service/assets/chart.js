// A vertical bar chart drawn as inline SVG. Bar heights are proportional to the values; the label
// on each bar is the value exactly as the API rendered it (a string), never re-rounded.
import { svg } from "./common.js";

/** Round tick steps: 1, 2 or 5 times a power of ten, giving at most about `count` ticks. */
function ticks(max, count = 5) {
  if (!(max > 0)) return [0];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const out = [];
  for (let t = 0; t <= max + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/**
 * bars: [{ key, label, value }] where value is the API's string. Returns an <svg>.
 * Negative or non-numeric values are drawn as zero-height bars (the label still shows them).
 */
export function barChart(bars, { title, unit } = {}) {
  const values = bars.map((b) => Math.max(0, Number(b.value) || 0));
  const top = ticks(Math.max(0, ...values));
  const scaleMax = top[top.length - 1] || 1;
  const left = 78;
  const right = 16;
  // At least 720 px of plot, at most 140 px per bar; many bars make the chart wider.
  const plotWidth = Math.max(720, Math.min(140, 900 / Math.max(1, bars.length)) * bars.length, 44 * bars.length);
  const slot = plotWidth / Math.max(1, bars.length);
  const plotTop = 34;
  const plotHeight = 260;
  const labelSpace = bars.length > 8 ? 90 : 28;
  const width = left + right + plotWidth;
  const height = plotTop + plotHeight + labelSpace;
  const y = (v) => plotTop + plotHeight - (v / scaleMax) * plotHeight;

  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": title || "bar chart",
    "data-scale-max": scaleMax,
  });
  if (title) root.appendChild(svg("text", { x: left, y: 18, class: "chart-title", text: title }));
  if (unit) root.appendChild(svg("text", { x: 4, y: plotTop - 8, class: "unit", text: unit }));

  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (const t of top) {
    grid.appendChild(svg("line", { x1: left, x2: width - right, y1: y(t), y2: y(t) }));
    axis.appendChild(svg("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", text: String(t) }));
  }
  axis.appendChild(svg("line", { x1: left, x2: left, y1: plotTop, y2: plotTop + plotHeight }));
  axis.appendChild(svg("line", { x1: left, x2: width - right, y1: plotTop + plotHeight, y2: plotTop + plotHeight }));
  root.append(grid, axis);

  const barsGroup = svg("g", { class: "bars" });
  bars.forEach((b, i) => {
    const v = values[i];
    const barWidth = Math.min(slot * 0.6, 72);
    const x = left + slot * i + (slot - barWidth) / 2;
    const barHeight = (v / scaleMax) * plotHeight;
    const g = svg("g", { class: "bar-group", "data-key": b.key });
    g.appendChild(
      svg(
        "rect",
        {
          class: "bar",
          x,
          y: plotTop + plotHeight - barHeight,
          width: barWidth,
          height: barHeight,
          "data-key": b.key,
          "data-value": b.value,
        },
        svg("title", { text: `${b.label}: ${b.value}${unit ? ` ${unit}` : ""}` }),
      ),
    );
    g.appendChild(
      svg("text", { class: "value", x: x + barWidth / 2, y: plotTop + plotHeight - barHeight - 4, "text-anchor": "middle", text: b.value }),
    );
    const lx = x + barWidth / 2;
    const ly = plotTop + plotHeight + 14;
    g.appendChild(
      svg("text", {
        class: "label",
        x: lx,
        y: ly,
        "text-anchor": bars.length > 8 ? "end" : "middle",
        transform: bars.length > 8 ? `rotate(-35 ${lx} ${ly})` : undefined,
        text: b.label,
      }),
    );
    barsGroup.appendChild(g);
  });
  root.appendChild(barsGroup);
  return root;
}

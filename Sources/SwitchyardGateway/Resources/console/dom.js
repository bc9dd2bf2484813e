// Building the page's nodes: text only, never markup.
// Every string that comes from the server is put in the page as text (textContent, never HTML).

import { $, SPARK_POINTS } from "./state.js";

// An element with text children only: strings become text nodes, never markup.
export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name === "title") node.title = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

export function number(value, digits) {
  return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "";
}

export function time(text) {
  return typeof text === "string" && text.length >= 23 ? text.slice(11, 23) : String(text ?? "");
}

export function note(id, text) {
  $(id).textContent = text || "";
}

export function sparkline(values) {
  const width = 120, height = 20, svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const max = Math.max(1e-9, ...values);
  const step = width / (SPARK_POINTS - 1);
  const offset = SPARK_POINTS - values.length;
  const points = values.map((v, i) => `${((offset + i) * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`);
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  return svg;
}

export function severityClass(severity) {
  return "sev-" + String(severity || "info").replace(/[^a-z]/g, "");
}

// Overlay view: photo, heatmap and blend on a canvas. Colormap, opacity and mode are applied here,
// with no kernel round trip: the kernel sends the photo and the 8-bit map once, as binary buffers.
// Uses element, control and asBytes from _dom.js (put in front of this file by assets.py).
// View formula (same as camwidgets.widgets.colormaps.compose_view):
//   heatmap: lut[m]; overlay: round((1 - opacity) * photo + opacity * lut[m]); photo: photo.

/** RGBA pixels (Uint8ClampedArray, width*height*4) of the view. */
export function composeView(photo, levels, table, mode, opacity, width, height) {
  const count = width * height;
  const out = new Uint8ClampedArray(count * 4);
  const a = Math.min(1, Math.max(0, Number(opacity) || 0));
  for (let i = 0; i < count; i++) {
    const m = levels.length === count ? levels[i] * 3 : 0;
    for (let c = 0; c < 3; c++) {
      const p = photo.length === count * 3 ? photo[i * 3 + c] : 0;
      const h = table.length >= 768 ? table[m + c] : 0;
      out[i * 4 + c] = mode === "photo" ? p : mode === "heatmap" ? h : Math.round((1 - a) * p + a * h);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Map value under grey level `level`, given the trait value_range [low, high]. */
export function levelToValue(level, range) {
  const [low, high] = range && range.length === 2 ? range : [0, 1];
  return low + (level / 255) * (high - low);
}

export const MAX_ZOOM = 16;

/** The view {zoom, x, y} (CSS pixels; the picture drawn at `zoom` times its size, its top left at
 *  x, y) moved so that it covers the viewport of `width` x `height`: x in [width - width * zoom, 0]. */
export function clampView(view, width, height) {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, Number(view.zoom) || 1));
  const clamp = (value, size) => Math.min(0, Math.max(size - size * zoom, Number(value) || 0));
  return { zoom, x: clamp(view.x, width), y: clamp(view.y, height) };
}

/** `view` zoomed by `factor` about the viewport point (px, py), which stays under the pointer. */
export function zoomAbout(view, factor, px, py, width, height) {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
  const k = zoom / view.zoom;
  return clampView({ zoom, x: px - (px - view.x) * k, y: py - (py - view.y) * k }, width, height);
}

/** The rectangle [x1, y1, x2, y2] (whole pixels, x1 < x2) spanned by two points of a drag, clamped
 *  to the `width` x `height` image; null when it is under 2 pixels either way (a click, not a drag). */
export function dragRectangle(a, b, width, height) {
  const clamp = (v, size) => Math.min(size, Math.max(0, Math.round(v)));
  const x1 = clamp(Math.min(a.x, b.x), width), x2 = clamp(Math.max(a.x, b.x), width);
  const y1 = clamp(Math.min(a.y, b.y), height), y2 = clamp(Math.max(a.y, b.y), height);
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : null;
}

/** "x1,y1 x2,y2 ..." of a flat [x1, y1, x2, y2, ...] list, for an SVG polygon. */
export function polygonPoints(flat) {
  const pairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push(`${Number(flat[i])},${Number(flat[i + 1])}`);
  return pairs.join(" ");
}

const SVG = "http://www.w3.org/2000/svg";
const svgElement = (tag, attributes = {}) => {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
};


/** Where each box's label goes (image pixels, ``font`` high, about 0.6 ``font`` per character): above
 *  the box, else inside it from the top, else below it (up to four lines each way), at the first place
 *  no earlier label covers; chosen boxes first, then larger ones. A label with no free place is not
 *  drawn (its box's tooltip names it). */
export function placeLabels(boxes, font, width, height) {
  const area = (item) => (item.box[2] - item.box[0]) * (item.box[3] - item.box[1]);
  const order = [...boxes].sort((a, b) => (b.chosen ? 1 : 0) - (a.chosen ? 1 : 0) || area(b) - area(a));
  const taken = [], placed = new Map();
  const overlaps = (r) => taken.some((t) => r[0] < t[2] && t[0] < r[2] && r[1] < t[3] && t[1] < r[3]);
  for (const item of order) {
    const [x1, y1, , y2] = item.box;
    const w = Math.max(font, String(item.label).length * font * 0.6);
    const x = Math.max(0, Math.min(x1, width - w));
    const lines = [0, 1, 2, 3].map((k) => k * (font + 1));
    const candidates = [
      ...lines.map((d) => y1 - 2 - d), ...lines.map((d) => y1 + font + 1 + d).filter((y) => y <= y2),
      ...lines.map((d) => y2 + font + 1 + d),
    ].filter((y) => y - font >= 0 && y <= height);
    const y = candidates.find((base) => !overlaps([x, base - font, x + w, base]));
    if (y === undefined) continue;
    taken.push([x, y - font, x + w, y]);
    placed.set(item.index, { x, y });
  }
  return placed;
}

export function renderOverlay({ model, el }) {
  const chrome = mapChrome(model, "cw-overlay");
  const { root, toolbar, notices, colorbar, readout, status } = chrome;
  const canvas = element("canvas", { class: "cw-canvas", "data-testid": "cw-overlay-canvas" });
  // zoom (wheel) and pan (drag) move the canvas inside a viewport that clips it; double-click resets
  const viewport = element("div", { class: "cw-viewport", "data-testid": "cw-viewport", title: "Wheel to zoom, drag to pan, double-click to reset" });
  // boxes, outlines and the dragged rectangle, in image pixels over the canvas (moved with it when zoomed)
  const stage = element("div", { class: "cw-stage" });
  const marks = svgElement("svg", { class: "cw-marks", "data-testid": "cw-marks", preserveAspectRatio: "none" });
  stage.append(canvas, marks);
  const clearRegion = control("button", { type: "button", class: "cw-clear-region", "data-testid": "cw-clear-region" }, "Clear rectangle");
  const zoomLabel = element("span", { class: "cw-zoom", "data-testid": "cw-zoom" });
  const zoomReset = control("button", { type: "button", class: "cw-zoom-reset", "data-testid": "cw-zoom-reset" }, "Reset zoom");
  const zoomBox = element("div", { class: "cw-zoom-box" });  // over the map's corner: zooming moves nothing on the page
  zoomBox.append(zoomLabel, zoomReset);
  viewport.append(stage, notices, zoomBox);
  toolbar.append(clearRegion);
  root.append(toolbar, viewport, colorbar, readout, status);
  el.appendChild(root);

  let image = null;
  const draw = () => {
    const width = model.get("width"), height = model.get("height");
    if (!width || !height) return;
    const table = chrome.table();
    const pixels = composeView(asBytes(model.get("photo")), asBytes(model.get("heatmap")), table,
      model.get("mode"), model.get("opacity"), width, height);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    image = new ImageData(pixels, width, height);
    canvas.getContext("2d").putImageData(image, 0, 0);
    chrome.drawColorbar(table);
  };
  const annotations = () => model.get("annotations") || {};
  let dragged = null;  // the rectangle being dragged, [x1, y1, x2, y2], drawn until the kernel answers
  const drawMarks = () => {
    const width = model.get("width"), height = model.get("height");
    const marked = annotations();
    marks.setAttribute("viewBox", `0 0 ${width || 1} ${height || 1}`);
    const nodes = [];
    // labels keep about 11 screen pixels whatever the zoom and the drawn size
    const shownScale = (canvas.clientWidth / (width || 1)) * view.zoom;
    const font = shownScale > 0 ? 11 / shownScale : Math.max(6, (width || 224) / 24);
    const labels = placeLabels(marked.boxes || [], font, width || 1, height || 1);
    for (const outline of marked.outlines || []) {
      nodes.push(svgElement("polygon", { class: "cw-outline", "data-testid": "cw-outline", points: polygonPoints(outline) }));
    }
    // larger boxes first: a box inside another stays on top, clickable
    const area = (item) => (item.box[2] - item.box[0]) * (item.box[3] - item.box[1]);
    for (const item of [...(marked.boxes || [])].sort((a, b) => area(b) - area(a))) {
      const [x1, y1, x2, y2] = item.box;
      const group = svgElement("g", { class: item.chosen ? "cw-detection cw-chosen" : "cw-detection" });
      const rect = svgElement("rect", { class: "cw-box", "data-testid": "cw-box", "data-index": item.index, x: x1, y: y1, width: x2 - x1, height: y2 - y1 });
      const title = svgElement("title");
      title.textContent = `${item.label}: click to explain this detection`;
      rect.append(title);
      group.append(rect);
      const place = labels.get(item.index);
      if (place) {
        const text = svgElement("text", { class: "cw-box-label", x: place.x + 1, y: place.y, "font-size": font });
        text.textContent = item.label;  // text, never markup
        group.append(text);
      }
      nodes.push(group);
    }
    const region = dragged || marked.region;
    if (region) {
      const [x1, y1, x2, y2] = region;
      nodes.push(svgElement("rect", { class: dragged ? "cw-region cw-dragging" : "cw-region", "data-testid": "cw-region", x: x1, y: y1, width: x2 - x1, height: y2 - y1 }));
    }
    marks.replaceChildren(...nodes);
    clearRegion.hidden = !marked.region;
    clearRegion.classList.toggle("cw-reserved", marked.draw === "region");  // its place kept where a rectangle can come
    canvas.classList.toggle("cw-draws", marked.draw === "region");
    viewport.title = marked.draw === "region" ? "Drag on the image to draw a rectangle; wheel to zoom, double-click to reset"
      : (marked.boxes || []).length ? "Click a box to explain it; wheel to zoom, drag to pan, double-click to reset"
      : "Wheel to zoom, drag to pan, double-click to reset";
  };
  const setTrait = (name, value) => { model.set(name, value); model.save_changes(); };
  const syncText = () => { chrome.syncText(); canvas.classList.toggle("cw-stale", !!model.get("stale")); };
  /** The pointer's position in image pixels (fractional, not clamped), or null before a picture. */
  const imagePoint = (event) => {
    const width = model.get("width"), height = model.get("height");
    const box = canvas.getBoundingClientRect();
    if (!width || !box.width) return null;
    return { x: ((event.clientX - box.left) / box.width) * width, y: ((event.clientY - box.top) / box.height) * height };
  };
  const onMove = (event) => {
    const width = model.get("width"), height = model.get("height");
    const point = imagePoint(event);
    if (!point) return;
    const x = Math.min(width - 1, Math.max(0, Math.floor(point.x)));
    const y = Math.min(height - 1, Math.max(0, Math.floor(point.y)));
    const levels = asBytes(model.get("heatmap"));
    if (levels.length !== width * height) return;
    const value = levelToValue(levels[y * width + x], model.get("value_range"));
    readout.textContent = `x ${x}, y ${y}: ${value.toPrecision(3)}`;
  };
  const onLeave = () => { readout.textContent = ""; };

  let view = { zoom: 1, x: 0, y: 0 };
  let drag = null;  // {x, y, view} where a pan started
  let sketch = null;  // {start} in image pixels where a rectangle drag started
  const applyView = (next) => {
    const box = viewport.getBoundingClientRect();
    view = clampView(next, box.width, box.height);
    stage.style.transform = view.zoom === 1 ? "" : `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
    canvas.classList.toggle("cw-zoomed", view.zoom > 1);
    zoomLabel.textContent = view.zoom > 1 ? `${view.zoom.toFixed(1)}×` : "";
    zoomBox.hidden = view.zoom === 1;
    drawMarks();  // labels keep their screen size
  };
  const onWheel = (event) => {
    const zoomingOut = event.deltaY > 0;
    if (zoomingOut && view.zoom === 1) return;  // nothing to zoom out of: the notebook scrolls as usual
    event.preventDefault();
    const box = viewport.getBoundingClientRect();
    applyView(zoomAbout(view, zoomingOut ? 1 / 1.25 : 1.25, event.clientX - box.left, event.clientY - box.top, box.width, box.height));
    onMove(event);
  };
  const onDown = (event) => {
    if (event.button !== 0) return;
    if (view.zoom === 1 && annotations().draw === "region") {  // unzoomed, a drag draws a rectangle
      const start = imagePoint(event);
      if (start) { event.preventDefault(); sketch = { start }; }
      return;
    }
    if (view.zoom === 1) return;
    event.preventDefault();
    drag = { x: event.clientX, y: event.clientY, view };
    canvas.classList.add("cw-panning");
  };
  const onDrag = (event) => {
    if (sketch) {
      const point = imagePoint(event);
      if (point) { dragged = dragRectangle(sketch.start, point, model.get("width"), model.get("height")); drawMarks(); }
      return;
    }
    if (!drag) return;
    applyView({ zoom: drag.view.zoom, x: drag.view.x + event.clientX - drag.x, y: drag.view.y + event.clientY - drag.y });
  };
  const onUp = (event) => {
    if (sketch) {
      const point = imagePoint(event);
      const rectangle = point ? dragRectangle(sketch.start, point, model.get("width"), model.get("height")) : null;
      sketch = null;
      if (rectangle) { dragged = rectangle; model.send({ type: "region", id: Date.now(), box: rectangle }); }
      else { dragged = null; }
      drawMarks();
    }
    drag = null;
    canvas.classList.remove("cw-panning");
  };
  const onClearRegion = () => model.send({ type: "region", id: Date.now(), box: null });
  const onMarkClick = (event) => {
    const rect = event.target.closest ? event.target.closest("[data-index]") : null;
    if (rect) model.send({ type: "pick_box", id: Date.now(), index: Number(rect.dataset.index) });
  };
  const onMarksChanged = () => { dragged = null; drawMarks(); };
  const onReset = () => applyView({ zoom: 1, x: 0, y: 0 });

  const redraw = () => { chrome.syncControls(); draw(); drawMarks(); };
  const domListeners = [
    ...chrome.domListeners,
    [canvas, "mousemove", onMove], [canvas, "mouseleave", onLeave],
    [viewport, "wheel", onWheel, { passive: false }], [canvas, "mousedown", onDown], [window, "mousemove", onDrag], [window, "mouseup", onUp],
    [canvas, "dblclick", onReset], [zoomReset, "click", onReset],
    [marks, "click", onMarkClick], [clearRegion, "click", onClearRegion],
  ];
  const modelListeners = [
    ...["photo", "heatmap", "colormap", "opacity", "mode", "width", "height", "value_range"].map((name) => [`change:${name}`, redraw]),
    ...CHROME_TEXT_TRAITS.map((name) => [`change:${name}`, syncText]),
    ["change:annotations", onMarksChanged], ["msg:custom", (content) => { if (content && content.type === "region" && content.error) onMarksChanged(); }],
  ];
  const cleanup = listen(model, root, domListeners, modelListeners);
  // the host's theme, for the charts the kernel draws
  const stopTheme = watchTheme(({ theme }) => { if (model.get("theme") !== theme) setTrait("theme", theme); });
  // the labels' size follows the drawn size of the map (a narrower notebook, a stacked layout)
  const resized = typeof ResizeObserver === "function" ? new ResizeObserver(() => drawMarks()) : null;
  if (resized) resized.observe(canvas);
  redraw();
  syncText();
  applyView(view);
  return () => { if (resized) resized.disconnect(); stopTheme(); cleanup(); };
}


// The map views of inputs that are not photos (camwidgets/widgets/spacetime.py): a volume as three
// orthogonal slices with a crosshair, a clip as a frame with a strip, a scrubber and the map's energy
// per frame, a signal as a line over a band of map colours. The kernel sends the input and the map
// once (binary buffers); slices, frames, windowing and zoom are drawn here without a round trip, and
// the position shown is written back (``position``) so that Python sees it.

const AXES = [["axial", "Axial"], ["coronal", "Coronal"], ["sagittal", "Sagittal"]];

/** Strides of a C-ordered array of ``shape``. */
function strides(shape) {
  const out = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** The 2-D plane of a (D, H, W) array at ``index`` along ``axis`` (0, 1, 2), or its maximum along the
 *  axis with ``project``: ``{ values, rows, cols }`` in the array's own type (rows and cols the two
 *  other axes in order). */
export function volumePlane(data, shape, axis, index, project = false) {
  const others = [0, 1, 2].filter((a) => a !== axis);
  const [rows, cols] = [shape[others[0]], shape[others[1]]];
  const step = strides(shape);
  const values = new data.constructor(rows * cols);
  const depth = shape[axis];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const base = r * step[others[0]] + c * step[others[1]];
      if (project) {
        let best = -Infinity;
        for (let k = 0; k < depth; k++) best = Math.max(best, data[base + k * step[axis]]);
        values[r * cols + c] = best;
      } else {
        values[r * cols + c] = data[base + index * step[axis]];
      }
    }
  }
  return { values, rows, cols };
}

/** A slice's drawn width and height: its cells times the voxel size (``spacing`` along D, H, W), so
 *  an anisotropic scan is not squashed. */
export function sliceAspect(shape, spacing, axis) {
  const [rows, cols] = [0, 1, 2].filter((a) => a !== axis);
  return [shape[cols] * (spacing[cols] || 1), shape[rows] * (spacing[rows] || 1)];
}

/** Grey levels of intensities through a window: ``255 * clamp((v - (level - width / 2)) / width)``,
 *  as RGB bytes (the same numbers as camwidgets.core.samples.windowed). */
export function windowedRGB(values, level, width) {
  const out = new Uint8Array(values.length * 3);
  const bottom = level - width / 2;
  for (let i = 0; i < values.length; i++) {
    const grey = Math.round(Math.min(1, Math.max(0, (values[i] - bottom) / width)) * 255);
    out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = grey;
  }
  return out;
}

/** Each frame's share of the map's energy (sum of its levels over the largest frame's), (T,). */
export function frameEnergy(levels, frames) {
  const pixels = levels.length / frames;
  const sums = new Array(frames).fill(0);
  for (let t = 0; t < frames; t++) for (let i = 0; i < pixels; i++) sums[t] += levels[t * pixels + i];
  const most = Math.max(...sums, 1);
  return sums.map((sum) => sum / most);
}

/** Where to draw sample values in a plot: ``[x, y]`` pairs for samples start..end-1 of one channel,
 *  x across ``width`` and y from the channel's range to ``height`` (top = largest). */
export function linePoints(values, start, end, width, height) {
  let low = Infinity, high = -Infinity;
  for (let i = start; i < end; i++) { low = Math.min(low, values[i]); high = Math.max(high, values[i]); }
  const span = high > low ? high - low : 1;
  const points = [];
  for (let i = start; i < end; i++) {
    const x = end - start > 1 ? ((i - start) / (end - start - 1)) * (width - 1) : 0;
    points.push([x, high > low ? (1 - (values[i] - low) / span) * (height - 4) + 2 : height / 2]);
  }
  return points;
}

function floatsOf(bytes) {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function paint(canvas, rgb, levels, table, model, width, height) {
  const pixels = composeView(rgb, levels, table, model.get("mode"), model.get("opacity"), width, height);
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  canvas.getContext("2d").putImageData(new ImageData(pixels, width, height), 0, 0);
}

/** The pointer's cell in a canvas of ``cols`` x ``rows`` cells. */
function cellAt(event, canvas, cols, rows) {
  const box = canvas.getBoundingClientRect();
  if (!box.width || !box.height) return null;
  return {
    col: Math.min(cols - 1, Math.max(0, Math.floor(((event.clientX - box.left) / box.width) * cols))),
    row: Math.min(rows - 1, Math.max(0, Math.floor(((event.clientY - box.top) / box.height) * rows))),
  };
}

function volumeBody(model, chrome, body, setPosition) {
  const views = AXES.map(([name, title], axis) => {
    const figure = element("figure", { class: "cw-slice-view" });
    const canvas = element("canvas", { class: "cw-slice", "data-testid": `cw-slice-${name}`, "data-axis": String(axis) });
    const slider = control("input", { type: "range", min: "0", step: "1", "data-testid": `cw-slider-${name}`, "aria-label": `${title} slice` });
    const caption = element("figcaption", { "data-testid": `cw-slice-label-${name}` });
    figure.append(canvas, slider, caption);
    return { name, title, axis, figure, canvas, slider, caption };
  });
  const grid = element("div", { class: "cw-slices" });
  grid.append(...views.map((view) => view.figure));
  const mip = control("input", { type: "checkbox", "data-testid": "cw-mip" });
  const mipLabel = element("label", { class: "cw-mip-label", title: "Maximum intensity projection of the volume and of the map" }, "MIP ");
  mipLabel.append(mip);
  const level = control("input", { type: "number", step: "any", "data-testid": "cw-window-level", "aria-label": "Window level" });
  const width = control("input", { type: "number", step: "any", min: "0", "data-testid": "cw-window-width", "aria-label": "Window width" });
  const windowLabel = element("label", { class: "cw-window-label", title: "Intensity window: the centre (level) and the range (width) shown from black to white" }, "Window ");
  windowLabel.append(level, width);
  const tools = element("div", { class: "cw-volume-tools" });
  tools.append(mipLabel, windowLabel);
  body.append(tools, grid);

  const draw = () => {
    const shape = model.get("shape");
    if (shape.length !== 3) return;
    const values = floatsOf(asBytes(model.get("sample")));
    const levels = asBytes(model.get("heatmap"));
    if (values.length !== shape[0] * shape[1] * shape[2] || levels.length !== values.length) return;
    const position = model.get("position");
    const [windowLevel, windowWidth] = model.get("window");
    const project = model.get("projection") === "mip";
    const table = chrome.table();
    for (const view of views) {
      const index = position[view.axis];
      const plane = volumePlane(values, shape, view.axis, index, project);
      const planeLevels = volumePlane(levels, shape, view.axis, index, project);
      paint(view.canvas, windowedRGB(plane.values, windowLevel, windowWidth), planeLevels.values, table, model, plane.cols, plane.rows);
      const [physicalWidth, physicalHeight] = sliceAspect(shape, model.get("spacing") || [1, 1, 1], view.axis);
      view.canvas.style.aspectRatio = `${physicalWidth} / ${physicalHeight}`;
      if (!project) {  // the crosshair: where the two other views cut this one
        const others = [0, 1, 2].filter((a) => a !== view.axis);
        const context = view.canvas.getContext("2d");
        context.fillStyle = "rgba(80, 220, 255, 0.8)";
        context.fillRect(0, position[others[0]], plane.cols, 1 / 1);
        context.fillRect(position[others[1]], 0, 1, plane.rows);
      }
      view.slider.max = String(shape[view.axis] - 1);
      view.slider.value = String(index);
      view.slider.disabled = project;
      view.caption.textContent = project ? `${view.title}: maximum over ${shape[view.axis]}` : `${view.title} ${index + 1}/${shape[view.axis]}`;
    }
    mip.checked = project;
    if (document.activeElement !== level) level.value = String(Number(windowLevel.toPrecision(4)));
    if (document.activeElement !== width) width.value = String(Number(windowWidth.toPrecision(4)));
    chrome.drawColorbar(table);
  };
  const domListeners = [];
  for (const view of views) {
    domListeners.push([view.slider, "input", () => {
      const next = [...model.get("position")];
      next[view.axis] = Number(view.slider.value);
      setPosition(next);
    }]);
    domListeners.push([view.canvas, "click", (event) => {
      if (model.get("projection") === "mip") return;
      const shape = model.get("shape");
      const others = [0, 1, 2].filter((a) => a !== view.axis);
      const cell = cellAt(event, view.canvas, shape[others[1]], shape[others[0]]);
      if (!cell) return;
      const next = [...model.get("position")];
      next[others[0]] = cell.row;
      next[others[1]] = cell.col;
      setPosition(next);
    }]);
    domListeners.push([view.canvas, "mousemove", (event) => {
      const shape = model.get("shape"), others = [0, 1, 2].filter((a) => a !== view.axis);
      const cell = cellAt(event, view.canvas, shape[others[1]], shape[others[0]]);
      if (!cell || model.get("projection") === "mip") return;
      const at = [...model.get("position")];
      at[others[0]] = cell.row;
      at[others[1]] = cell.col;
      const levels = asBytes(model.get("heatmap"));
      const value = levelToValue(levels[(at[0] * shape[1] + at[1]) * shape[2] + at[2]], model.get("value_range"));
      chrome.readout.textContent = `d ${at[0]}, h ${at[1]}, w ${at[2]}: ${value.toPrecision(3)}`;
    }]);
  }
  const setTrait = (name, value) => { model.set(name, value); model.save_changes(); };
  domListeners.push([mip, "change", () => setTrait("projection", mip.checked ? "mip" : "slice")]);
  const onWindow = () => {
    const next = [Number(level.value), Number(width.value)];
    if (Number.isFinite(next[0]) && Number.isFinite(next[1]) && next[1] > 0) setTrait("window", next);
  };
  domListeners.push([level, "input", onWindow], [width, "input", onWindow]);
  return { draw, domListeners, traits: ["window", "projection", "spacing"] };
}

function clipBody(model, chrome, body, setPosition) {
  const frame = element("canvas", { class: "cw-frame", "data-testid": "cw-frame" });
  const play = control("button", { type: "button", class: "cw-play", "data-testid": "cw-play" }, "Play");
  const scrubber = control("input", { type: "range", min: "0", step: "1", "data-testid": "cw-scrubber", "aria-label": "Frame" });
  const label = element("span", { class: "cw-frame-label", "data-testid": "cw-frame-label" });
  const controls = element("div", { class: "cw-clip-controls" });
  controls.append(play, scrubber, label);
  const strip = element("div", { class: "cw-strip", "data-testid": "cw-strip" });
  const energy = element("div", { class: "cw-energy", "data-testid": "cw-energy", title: "The map's energy in each frame: where in time the evidence is. Click a bar to show its frame" });
  body.append(frame, controls, strip, energy);
  let timer = null;
  const stop = () => { if (timer !== null) { clearInterval(timer); timer = null; } play.textContent = "Play"; };

  const draw = () => {
    const shape = model.get("shape");
    if (shape.length !== 3) return;
    const [frames, height, width] = shape;
    const rgb = asBytes(model.get("sample")), levels = asBytes(model.get("heatmap"));
    if (rgb.length !== frames * height * width * 3 || levels.length !== frames * height * width) return;
    const t = Math.min(frames - 1, model.get("position")[0] || 0);
    const table = chrome.table();
    const pixels = height * width;
    paint(frame, rgb.subarray(t * pixels * 3, (t + 1) * pixels * 3), levels.subarray(t * pixels, (t + 1) * pixels), table, model, width, height);
    if (strip.children.length !== frames) {
      strip.replaceChildren(...Array.from({ length: frames }, (_, index) =>
        control("canvas", { class: "cw-strip-frame", "data-testid": "cw-strip-frame", "data-index": String(index), tabindex: "0", title: `Frame ${index + 1}` })));
      energy.replaceChildren(...Array.from({ length: frames }, (_, index) => {
        const column = control("button", { type: "button", class: "cw-energy-column", "data-index": String(index), "data-testid": "cw-energy-bar" });
        column.append(element("span", { class: "cw-energy-bar" }));
        return column;
      }));
    }
    [...strip.children].forEach((canvas, index) => {
      paint(canvas, rgb.subarray(index * pixels * 3, (index + 1) * pixels * 3), levels.subarray(index * pixels, (index + 1) * pixels), table, model, width, height);
      canvas.classList.toggle("cw-active", index === t);
    });
    frameEnergy(levels, frames).forEach((share, index) => {
      const column = energy.children[index];
      column.firstChild.style.height = `${Math.round(share * 100)}%`;
      column.classList.toggle("cw-active", index === t);
      column.setAttribute("aria-label", `Frame ${index + 1}: energy ${Math.round(share * 100)}% of the largest`);
      column.dataset.energy = share.toFixed(4);
    });
    scrubber.max = String(frames - 1);
    scrubber.value = String(t);
    label.textContent = `Frame ${t + 1}/${frames}`;
    chrome.drawColorbar(table);
  };
  const pick = (event) => {
    const target = event.target.closest ? event.target.closest("[data-index]") : null;
    if (target) { stop(); setPosition([Number(target.dataset.index)]); }
  };
  const onPlay = () => {
    if (timer !== null) { stop(); return; }
    play.textContent = "Pause";
    timer = setInterval(() => {
      const frames = model.get("shape")[0] || 1;
      setPosition([((model.get("position")[0] || 0) + 1) % frames]);
    }, 250);
  };
  const onFrameMove = (event) => {
    const [frames, height, width] = model.get("shape");
    const cell = cellAt(event, frame, width, height);
    const t = model.get("position")[0] || 0;
    if (!cell || !frames) return;
    const value = levelToValue(asBytes(model.get("heatmap"))[(t * height + cell.row) * width + cell.col], model.get("value_range"));
    chrome.readout.textContent = `frame ${t + 1}, x ${cell.col}, y ${cell.row}: ${value.toPrecision(3)}`;
  };
  const domListeners = [
    [scrubber, "input", () => { stop(); setPosition([Number(scrubber.value)]); }],
    [play, "click", onPlay], [strip, "click", pick], [energy, "click", pick], [frame, "mousemove", onFrameMove],
  ];
  return { draw, domListeners, traits: [], stop };
}

function signalBody(model, chrome, body, setPosition) {
  const plot = element("canvas", { class: "cw-signal", "data-testid": "cw-signal", width: "640", height: "160", title: "Drag to zoom into an interval; double-click to see it all" });
  const band = element("canvas", { class: "cw-band", "data-testid": "cw-band", height: "1", "aria-hidden": "true" });
  const reset = control("button", { type: "button", class: "cw-signal-reset", "data-testid": "cw-signal-reset" }, "Show all");
  const range = element("span", { class: "cw-signal-range", "data-testid": "cw-signal-range" });
  const tools = element("div", { class: "cw-signal-tools" });
  tools.append(range, reset);
  body.append(plot, band, tools);
  let dragFrom = null;

  const draw = () => {
    const shape = model.get("shape");
    if (shape.length !== 2) return;
    const [channels, length] = shape;
    const values = floatsOf(asBytes(model.get("sample"))), levels = asBytes(model.get("heatmap"));
    if (values.length !== channels * length || levels.length !== length) return;
    let [start, end] = model.get("position");
    if (!(end > start)) { start = 0; end = length; }
    const table = chrome.table(), mode = model.get("mode");
    const context = plot.getContext("2d");
    const width = plot.width, height = plot.height;
    context.clearRect(0, 0, width, height);
    if (mode !== "photo") {  // the map behind the line, as in the overlay
      const shade = mode === "heatmap" ? 1 : model.get("opacity");
      for (let i = start; i < end; i++) {
        const x = Math.round(((i - start) / (end - start)) * width), next = Math.round(((i + 1 - start) / (end - start)) * width);
        const level = levels[i];
        context.fillStyle = `rgba(${table[level * 3]}, ${table[level * 3 + 1]}, ${table[level * 3 + 2]}, ${shade})`;
        context.fillRect(x, 0, Math.max(1, next - x), height);
      }
    }
    const colours = ["#222", "#1e5ac8", "#c8501e", "#28963c"];
    for (let c = 0; c < channels; c++) {
      const points = linePoints(values.subarray(c * length, (c + 1) * length), start, end, width, height);
      context.strokeStyle = colours[c % colours.length];
      context.lineWidth = 1.5;
      context.beginPath();
      points.forEach(([x, y], index) => (index ? context.lineTo(x, y) : context.moveTo(x, y)));
      context.stroke();
    }
    band.width = end - start;
    const strip = new Uint8Array((end - start) * 3);
    for (let i = start; i < end; i++) for (let k = 0; k < 3; k++) strip[(i - start) * 3 + k] = table[levels[i] * 3 + k];
    const rgba = new Uint8ClampedArray((end - start) * 4);
    for (let i = 0; i < end - start; i++) { rgba.set(strip.subarray(i * 3, i * 3 + 3), i * 4); rgba[i * 4 + 3] = 255; }
    band.getContext("2d").putImageData(new ImageData(rgba, end - start, 1), 0, 0);
    band.hidden = mode === "photo";
    range.textContent = `Samples ${start}–${end - 1} of ${length}`;
    reset.disabled = start === 0 && end === length;
    chrome.drawColorbar(table);
  };
  const sampleAt = (event) => {
    const [, length] = model.get("shape");
    let [start, end] = model.get("position");
    if (!(end > start)) { start = 0; end = length; }
    const box = plot.getBoundingClientRect();
    if (!box.width) return null;
    return Math.min(end - 1, Math.max(start, Math.floor(start + ((event.clientX - box.left) / box.width) * (end - start))));
  };
  const onMove = (event) => {
    const index = sampleAt(event);
    if (index === null) return;
    const [channels, length] = model.get("shape");
    const values = floatsOf(asBytes(model.get("sample")));
    const readings = Array.from({ length: channels }, (_, c) => values[c * length + index].toPrecision(3)).join(", ");
    const value = levelToValue(asBytes(model.get("heatmap"))[index], model.get("value_range"));
    chrome.readout.textContent = `sample ${index}: ${readings}; map ${value.toPrecision(3)}`;
  };
  const onDown = (event) => { if (event.button === 0) { dragFrom = sampleAt(event); event.preventDefault(); } };
  const onUp = (event) => {
    if (dragFrom === null) return;
    const to = sampleAt(event), from = dragFrom;
    dragFrom = null;
    if (to !== null && Math.abs(to - from) >= 2) setPosition([Math.min(from, to), Math.max(from, to) + 1]);
  };
  const showAll = () => setPosition([0, model.get("shape")[1]]);
  const domListeners = [
    [plot, "mousemove", onMove], [plot, "mousedown", onDown], [window, "mouseup", onUp],
    [plot, "dblclick", showAll], [reset, "click", showAll],
  ];
  return { draw, domListeners, traits: [] };
}

const BODIES = { volume: volumeBody, clip: clipBody, signal: signalBody };

export function renderSpaceTime({ model, el }) {
  const chrome = mapChrome(model, "cw-spacetime");
  const kind = model.get("sample_kind");
  const body = element("div", { class: `cw-spacetime-body cw-${kind}-body`, "data-testid": `cw-${kind}-view` });
  chrome.root.append(chrome.toolbar, body, chrome.colorbar, chrome.readout, chrome.status);
  body.append(chrome.notices);
  el.appendChild(chrome.root);
  const setPosition = (position) => { model.set("position", position); model.save_changes(); };
  const view = BODIES[kind](model, chrome, body, setPosition);
  const redraw = () => { chrome.syncControls(); view.draw(); };
  const syncText = () => { chrome.syncText(); body.classList.toggle("cw-stale", !!model.get("stale")); };
  const cleanup = listen(model, chrome.root, [...chrome.domListeners, ...view.domListeners], [
    ...["sample", "heatmap", "shape", "position", "colormap", "opacity", "mode", "value_range", ...view.traits].map((name) => [`change:${name}`, redraw]),
    ...CHROME_TEXT_TRAITS.map((name) => [`change:${name}`, syncText]),
  ]);
  redraw();
  syncText();
  return () => { if (view.stop) view.stop(); cleanup(); };
}

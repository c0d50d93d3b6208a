// What every map view shares (the image overlay, the volume, clip and signal views): the toolbar
// with mode, colormap and opacity, the notices over the map (an error banner, a slow method's
// progress with Cancel), the colorbar, the value readout and the status line. Each view puts these
// where it wants them and draws its own pictures.

const MODES = [["overlay", "Overlay"], ["heatmap", "Heatmap"], ["photo", "Photo"]];
/** Traits whose change redraws the notices and status line. */
const CHROME_TEXT_TRAITS = ["status", "error", "busy", "stale", "progress", "progress_label"];

/** The colormap table in use: 256 RGB entries (uint8) of ``colormap`` in ``colormap_tables``. */
export function colormapTable(model) {
  const index = Math.max(0, model.get("colormap_names").indexOf(model.get("colormap")));
  return asBytes(model.get("colormap_tables")).subarray(index * 768, index * 768 + 768);
}

export function mapChrome(model, testid) {
  const root = element("div", { class: "cw-overlay", "data-testid": testid });
  const toolbar = element("div", { class: "cw-toolbar" });
  const modeButtons = MODES.map(([mode, label]) =>
    control("button", { type: "button", class: "cw-mode", "data-testid": `cw-mode-${mode}`, "data-mode": mode }, label));
  const colormap = control("select", { "data-testid": "cw-colormap", "aria-label": "Colormap" });
  const opacity = control("input", { type: "range", min: "0", max: "1", step: "0.05", "data-testid": "cw-opacity", "aria-label": "Opacity" });
  const opacityValue = element("span", { class: "cw-opacity-value", "data-testid": "cw-opacity-value" });
  const opacityLabel = element("label", { class: "cw-opacity-label" }, "Opacity ");
  opacityLabel.append(opacity, opacityValue);
  toolbar.append(...modeButtons, colormap, opacityLabel);
  // errors and progress over the top of the map: when they come and go, nothing on the page moves
  const notices = element("div", { class: "cw-notices" });
  const banner = element("div", { class: "cw-error-banner", "data-testid": "cw-error-banner" });
  const error = element("div", { class: "cw-error", "data-testid": "cw-error", role: "alert" });
  const dismiss = control("button", { type: "button", class: "cw-dismiss", "data-testid": "cw-dismiss", "aria-label": "Dismiss the message" }, "×");
  banner.append(error, dismiss);
  let dismissed = "";  // the error text the user closed: hidden until another one comes
  const progress = element("div", { class: "cw-progress", "data-testid": "cw-progress" });
  const bar = element("progress", { max: "1", value: "0" });
  const label = element("span", { class: "cw-progress-label" });
  const cancel = control("button", { type: "button", "data-testid": "cw-cancel" }, "Cancel");
  progress.append(bar, label, cancel);
  notices.append(banner, progress);
  const colorbar = element("div", { class: "cw-colorbar", "data-testid": "cw-colorbar" });
  const barCanvas = element("canvas", { class: "cw-colorbar-strip", width: "256", height: "1", "aria-hidden": "true" });
  const low = element("span", { class: "cw-colorbar-low", "data-testid": "cw-colorbar-low" });
  const high = element("span", { class: "cw-colorbar-high", "data-testid": "cw-colorbar-high" });
  colorbar.append(low, barCanvas, high);
  const readout = element("div", { class: "cw-readout", "data-testid": "cw-readout" });
  const status = element("div", { class: "cw-status", "data-testid": "cw-status", role: "status" });

  const table = () => colormapTable(model);
  const drawColorbar = (colours) => {
    colorbar.hidden = model.get("mode") === "photo";
    const strip = new Uint8ClampedArray(256 * 4);
    for (let level = 0; level < 256; level++) {
      for (let c = 0; c < 3; c++) strip[level * 4 + c] = colours.length >= 768 ? colours[level * 3 + c] : level;
      strip[level * 4 + 3] = 255;
    }
    barCanvas.getContext("2d").putImageData(new ImageData(strip, 256, 1), 0, 0);
    const range = model.get("value_range");
    low.textContent = levelToValue(0, range).toPrecision(3);
    high.textContent = levelToValue(255, range).toPrecision(3);
  };
  const syncControls = () => {
    const names = model.get("colormap_names");
    if (colormap.options.length !== names.length) {
      colormap.replaceChildren(...names.map((name) => element("option", { value: name }, name)));
    }
    colormap.value = model.get("colormap");
    opacity.value = String(model.get("opacity"));
    opacityValue.textContent = Number(model.get("opacity")).toFixed(2);
    for (const button of modeButtons) {
      const active = button.dataset.mode === model.get("mode");
      button.classList.toggle("cw-active", active);
      button.setAttribute("aria-pressed", String(active));
    }
  };
  const syncText = () => {
    status.textContent = model.get("status");
    error.textContent = model.get("error");
    banner.hidden = !model.get("error") || model.get("error") === dismissed;
    error.hidden = banner.hidden;
    // the row stays after the run when it has something to say ("ScoreCAM cancelled; ..."), without bar and button
    progress.hidden = !model.get("busy") && !model.get("progress_label");
    bar.hidden = cancel.hidden = !model.get("busy");
    bar.value = model.get("progress");
    label.textContent = model.get("progress_label");
  };
  const setTrait = (name, value) => { model.set(name, value); model.save_changes(); };
  const domListeners = [
    ...modeButtons.map((button) => [button, "click", (event) => setTrait("mode", event.currentTarget.dataset.mode)]),
    [colormap, "change", () => setTrait("colormap", colormap.value)],
    [opacity, "input", () => setTrait("opacity", Number(opacity.value))],
    [cancel, "click", () => model.send({ type: "cancel", id: Date.now() })],
    [dismiss, "click", () => { dismissed = model.get("error"); syncText(); }],
  ];
  return { root, toolbar, notices, colorbar, readout, status, table, drawColorbar, syncControls, syncText, domListeners };
}

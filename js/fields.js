// The form controls of camwidgets/widgets/fields.py. Each is labelled by its description, keeps its
// keys from JupyterLab (data-lm-suppress-shortcuts on the focusable element) and sends only what the
// kernel offered: a choice's index, a checkbox's state, a click, typed text on Enter or blur.

/** A field's frame: a <label> with the description (when there is one) around ``input``. */
function labelled(model, input, className) {
  const frame = element("label", { class: `cw-field ${className}` });
  const text = element("span", { class: "cw-field-label" });
  frame.append(text, input);
  const sync = () => {
    text.textContent = model.get("description");
    text.hidden = !model.get("description");
    input.disabled = !!model.get("disabled");
    if (model.get("tooltip")) frame.title = model.get("tooltip"); else frame.removeAttribute("title");
  };
  return { frame, sync };
}

const save = (model, name, value) => { model.set(name, value); model.save_changes(); };

function renderDropdown({ model, el }) {
  const select = control("select", { class: "cw-select" });
  const { frame, sync: syncFrame } = labelled(model, select, "cw-dropdown");
  el.append(frame);
  const sync = () => {
    syncFrame();
    const labels = model.get("labels");
    if (select.options.length !== labels.length || [...select.options].some((o, i) => o.textContent !== labels[i])) {
      select.replaceChildren(...labels.map((label, index) => element("option", { value: String(index) }, label)));
    }
    select.value = String(model.get("index"));
  };
  const onChange = () => save(model, "index", Number(select.value));
  sync();
  return listen(model, frame, [[select, "change", onChange]],
    ["labels", "index", "description", "disabled", "tooltip"].map((name) => [`change:${name}`, sync]));
}

function renderToggle({ model, el }) {
  const group = element("div", { class: "cw-toggle", role: "radiogroup" });
  const text = element("span", { class: "cw-field-label" });
  const buttons = element("div", { class: "cw-toggle-buttons" });
  group.append(text, buttons);
  el.append(group);
  const sync = () => {
    text.textContent = model.get("description");
    group.setAttribute("aria-label", model.get("description"));
    const labels = model.get("labels"), index = model.get("index");
    buttons.replaceChildren(...labels.map((label, at) => {
      const button = control("button", { type: "button", class: `cw-toggle-button${at === index ? " cw-active" : ""}`,
        role: "radio", "aria-checked": String(at === index), "data-index": String(at) }, label);
      button.disabled = !!model.get("disabled");
      return button;
    }));
  };
  const onClick = (event) => {
    const button = event.target.closest("[data-index]");
    if (button && buttons.contains(button)) save(model, "index", Number(button.dataset.index));
  };
  sync();
  return listen(model, group, [[buttons, "click", onClick]],
    ["labels", "index", "description", "disabled"].map((name) => [`change:${name}`, sync]));
}

function renderMulti({ model, el }) {
  const select = control("select", { class: "cw-select", multiple: "" });
  const { frame, sync: syncFrame } = labelled(model, select, "cw-multi");
  el.append(frame);
  const sync = () => {
    syncFrame();
    select.size = model.get("rows");
    const labels = model.get("labels"), chosen = new Set(model.get("index"));
    if (select.options.length !== labels.length) {
      select.replaceChildren(...labels.map((label, index) => element("option", { value: String(index) }, label)));
    }
    [...select.options].forEach((option, index) => { option.selected = chosen.has(index); });
  };
  const onChange = () => save(model, "index", [...select.selectedOptions].map((option) => Number(option.value)));
  sync();
  return listen(model, frame, [[select, "change", onChange]],
    ["labels", "index", "rows", "description", "disabled"].map((name) => [`change:${name}`, sync]));
}

function renderCheckbox({ model, el }) {
  const box = control("input", { type: "checkbox" });
  const frame = element("label", { class: "cw-field cw-checkbox" });
  const text = element("span", { class: "cw-field-label" });
  frame.append(box, text);
  el.append(frame);
  const sync = () => {
    text.textContent = model.get("description");
    box.checked = !!model.get("value");
    box.disabled = !!model.get("disabled");
    if (model.get("tooltip")) frame.title = model.get("tooltip");
  };
  const onChange = () => save(model, "value", box.checked);
  sync();
  return listen(model, frame, [[box, "change", onChange]], ["value", "description", "disabled", "tooltip"].map((n) => [`change:${n}`, sync]));
}

function renderButton({ model, el }) {
  const button = control("button", { type: "button", class: "cw-button" });
  el.append(button);
  const sync = () => {
    button.textContent = model.get("description");
    button.disabled = !!model.get("disabled");
    if (model.get("tooltip")) button.title = model.get("tooltip"); else button.removeAttribute("title");
  };
  const clicks = requests(model, "click");
  const onClick = () => clicks.send({});
  sync();
  return listen(model, button, [[button, "click", onClick]], ["description", "disabled", "tooltip"].map((n) => [`change:${n}`, sync]));
}

/** A text box whose value counts on Enter or blur (a Combobox also offers suggestions). */
function renderText({ model, el }, suggestions = false) {
  const input = control("input", { type: "text", class: "cw-text" });
  const { frame, sync: syncFrame } = labelled(model, input, suggestions ? "cw-combobox" : "cw-textbox");
  let list = null;
  if (suggestions) {
    list = element("datalist", { id: `cw-list-${model.id || Math.random().toString(36).slice(2)}` });
    input.setAttribute("list", list.id);
    frame.append(list);
  }
  el.append(frame);
  const sync = () => {
    syncFrame();
    input.placeholder = model.get("placeholder");
    if (document.activeElement !== input) input.value = model.get("value");
    if (list) {
      const options = model.get("options") || [];
      if (list.children.length !== options.length) list.replaceChildren(...options.map((o) => element("option", { value: o })));
    }
  };
  const commit = () => { if (input.value !== model.get("value")) save(model, "value", input.value); };
  const onKey = (event) => { if (event.key === "Enter") { event.preventDefault(); commit(); } };
  // a suggestion picked from the list counts at once, as a typed name does on Enter
  const onInput = (event) => { if (list && event.inputType === "insertReplacementText") commit(); };
  sync();
  return listen(model, frame, [[input, "keydown", onKey], [input, "change", commit], [input, "input", onInput]],
    ["value", "placeholder", "options", "description", "disabled"].map((n) => [`change:${n}`, sync]));
}

function renderInt({ model, el }) {
  const input = control("input", { type: "number", class: "cw-number", step: "1" });
  const { frame, sync: syncFrame } = labelled(model, input, "cw-int");
  el.append(frame);
  const sync = () => {
    syncFrame();
    input.min = model.get("min"); input.max = model.get("max");
    input.value = String(model.get("value"));
  };
  const onChange = () => {
    const value = Math.round(Number(input.value));
    if (Number.isFinite(value)) save(model, "value", value); else sync();
  };
  sync();
  return listen(model, frame, [[input, "change", onChange]], ["value", "min", "max", "description", "disabled"].map((n) => [`change:${n}`, sync]));
}

function renderRange({ model, el }) {
  const low = control("input", { type: "range", class: "cw-range-low", "aria-label": "low" });
  const high = control("input", { type: "range", class: "cw-range-high", "aria-label": "high" });
  const readout = element("span", { class: "cw-range-readout" });
  const inputs = element("span", { class: "cw-range-inputs" });
  inputs.append(low, high, readout);
  const { frame, sync: syncFrame } = labelled(model, inputs, "cw-range");
  el.append(frame);
  const sync = () => {
    syncFrame();
    for (const input of [low, high]) {
      input.min = model.get("min"); input.max = model.get("max"); input.step = model.get("step");
      input.disabled = !!model.get("disabled");
      input.setAttribute("aria-label", `${model.get("description")} ${input === low ? "from" : "to"}`);
    }
    const [a, b] = model.get("value");
    low.value = String(a); high.value = String(b);
    readout.textContent = `${Number(a).toFixed(2)} – ${Number(b).toFixed(2)}`;
  };
  const onChange = () => save(model, "value", [Number(low.value), Number(high.value)].sort((a, b) => a - b));
  sync();
  return listen(model, frame, [[low, "change", onChange], [high, "change", onChange]],
    ["value", "min", "max", "step", "description", "disabled"].map((n) => [`change:${n}`, sync]));
}

function renderSlider({ model, el }) {
  const input = control("input", { type: "range", class: "cw-slider" });
  const readout = element("span", { class: "cw-range-readout" });
  const inputs = element("span", { class: "cw-range-inputs" });
  inputs.append(input, readout);
  const { frame, sync: syncFrame } = labelled(model, inputs, "cw-slider-field");
  el.append(frame);
  const decimals = () => Math.max(0, Math.min(4, Math.ceil(-Math.log10(model.get("step") || 1))));
  const sync = () => {
    syncFrame();
    input.min = model.get("min"); input.max = model.get("max"); input.step = model.get("step");
    input.disabled = !!model.get("disabled");
    input.setAttribute("aria-label", model.get("description"));
    input.value = String(model.get("value"));
    readout.textContent = Number(model.get("value")).toFixed(decimals());
  };
  const onInput = () => { readout.textContent = Number(input.value).toFixed(decimals()); };  // said while dragging
  const onChange = () => save(model, "value", Number(input.value));  // sent when let go
  sync();
  return listen(model, frame, [[input, "input", onInput], [input, "change", onChange]],
    ["value", "min", "max", "step", "description", "disabled"].map((n) => [`change:${n}`, sync]));
}

function renderProgress({ model, el }) {
  const bar = element("progress", { class: "cw-progress-bar" });
  const { frame, sync: syncFrame } = labelled(model, bar, "cw-progress-field");
  el.append(frame);
  const sync = () => { syncFrame(); bar.max = model.get("max"); bar.value = model.get("value"); };
  sync();
  return listen(model, frame, [], ["value", "max", "description"].map((n) => [`change:${n}`, sync]));
}

/** Markup the kernel wrote with every text escaped (camwidgets.core.text.text_html). */
function renderHTML({ model, el }) {
  const box = element("div", { class: "cw-html" });
  el.append(box);
  const sync = () => { box.innerHTML = model.get("value"); };
  sync();
  return listen(model, box, [], [["change:value", sync]]);
}

function renderLabel({ model, el }) {
  const text = element("span", { class: "cw-label" });
  el.append(text);
  const sync = () => { text.textContent = model.get("value"); };
  sync();
  return listen(model, text, [], [["change:value", sync]]);
}

function renderImage({ model, el }) {
  const image = element("img", { class: "cw-image" });
  el.append(image);
  const clicks = requests(model, "click");
  const onClick = (event) => {
    if (!model.get("clickable")) return;
    const box = image.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) {
      clicks.send({ x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height });
    }
  };
  let url = "";
  const sync = () => {
    if (url) URL.revokeObjectURL(url);
    const bytes = asBytes(model.get("value"));
    url = bytes.length ? URL.createObjectURL(new Blob([bytes], { type: "image/png" })) : "";
    image.hidden = !url;
    if (url) image.src = url; else image.removeAttribute("src");
    image.style.width = model.get("width");
    image.alt = model.get("alt");
    image.classList.toggle("cw-clickable", !!model.get("clickable"));
  };
  sync();
  const cleanup = listen(model, image, [[image, "click", onClick]], ["value", "width", "alt", "clickable"].map((n) => [`change:${n}`, sync]));
  return () => { if (url) URL.revokeObjectURL(url); cleanup(); };
}

export const FIELD_RENDERERS = {
  dropdown: renderDropdown, toggle: renderToggle, multi: renderMulti, checkbox: renderCheckbox, button: renderButton,
  text: (args) => renderText(args, false), combobox: (args) => renderText(args, true), int: renderInt, range: renderRange,
  slider: renderSlider,
  progress: renderProgress, html: renderHTML, label: renderLabel, image: renderImage,
};

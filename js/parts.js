// A part's own model inside the one widget model of a composed view (camwidgets/widgets/parts.py):
// trait "name" of part "p3" is the widget's "p3__name", and the part's messages carry part: "p3".
// Each renderer (renderOverlay, renderLayerTree, renderThumbnails, the fields) gets one of these and
// is written as if it had a widget of its own.

export const PART_SEPARATOR = "__";

/** The model of part ``id``: get, set, save_changes, on/off ("change:name", "msg:custom"), send. */
export function partModel(model, id) {
  const prefix = id + PART_SEPARATOR;
  const wrapped = new Map();  // the caller's handler -> [event, the handler given to the widget model]
  const eventName = (event) => (event.startsWith("change:") ? `change:${prefix}${event.slice(7)}` : event);
  return {
    id,
    get: (name) => model.get(prefix + name),
    set: (name, value) => model.set(prefix + name, value),
    save_changes: () => model.save_changes(),
    send: (content, callbacks, buffers) => model.send({ ...content, part: id }, callbacks, buffers),
    on(event, handler) {
      const inner = event === "msg:custom"
        ? (content, buffers) => { if (content && content.part === id) handler(content, buffers); }
        : (...args) => handler(...args);
      if (!wrapped.has(handler)) wrapped.set(handler, []);
      wrapped.get(handler).push([event, inner]);
      model.on(eventName(event), inner);
    },
    off(event, handler) {
      const entries = wrapped.get(handler) || [];
      for (const entry of entries.filter(([name]) => name === event)) {
        model.off(eventName(event), entry[1]);
        entries.splice(entries.indexOf(entry), 1);
      }
      if (!entries.length) wrapped.delete(handler);
    },
  };
}

"""A minimal anywidget used to test the harness itself (no camwidgets code involved).

Two range inputs, one guarded with ``data-lm-suppress-shortcuts`` and one bare, a button that
counts clicks into a synced ``clicks`` trait, and a gradient-filled canvas."""

PROBE_ESM = """
export default {
  render({ model, el }) {
    const root = document.createElement('div');
    root.dataset.testid = 'probe';
    const make = (tag, testid, guarded) => {
      const node = document.createElement(tag);
      node.dataset.testid = testid;
      if (guarded) node.setAttribute('data-lm-suppress-shortcuts', 'true');
      root.append(node);
      return node;
    };
    const guarded = make('input', 'guarded', true);
    guarded.type = 'range';
    const bare = make('input', 'bare', false);
    bare.type = 'range';
    const button = make('button', 'bump', true);
    button.textContent = 'bump';
    const label = make('span', 'clicks', false);
    const canvas = make('canvas', 'picture', false);
    canvas.width = 64; canvas.height = 48;
    const context = canvas.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, 64, 48);
    gradient.addColorStop(0, 'red'); gradient.addColorStop(0.5, 'lime'); gradient.addColorStop(1, 'blue');
    context.fillStyle = gradient; context.fillRect(0, 0, 64, 48);
    const show = () => { label.textContent = String(model.get('clicks')); };
    const bump = () => { model.set('clicks', model.get('clicks') + 1); model.save_changes(); };
    const resize = () => {};
    button.addEventListener('click', bump);
    window.addEventListener('resize', resize);
    model.on('change:clicks', show);
    show();
    el.append(root);
    return () => {
      button.removeEventListener('click', bump);
      /*LEAK*/window.removeEventListener('resize', resize);
      model.off('change:clicks', show);
    };
  }
};
"""
# The same widget with a cleanup that forgets its window listener.
LEAKY_ESM = PROBE_ESM.replace("/*LEAK*/window.removeEventListener('resize', resize);", "")

PROBE_CELL = f"""
import anywidget
import traitlets


class Probe(anywidget.AnyWidget):
    _esm = {PROBE_ESM!r}
    clicks = traitlets.Int(0).tag(sync=True)


probe = Probe()
probe
"""

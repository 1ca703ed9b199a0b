// Stand-in for the anywidget model in a plain page: get/set/on/off/save_changes/send. save_changes and
// send go through window.py_bridge to the real Python widget in the test process.
const toB64 = (v) => {
  const u = new Uint8Array(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v);
  let s = "";
  for (const x of u) s += String.fromCharCode(x);
  return btoa(s);
};
const b64ToDV = (s) => {
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new DataView(u.buffer);
};
const encode = (v) => (v instanceof DataView || ArrayBuffer.isView(v) || v instanceof ArrayBuffer ? { $b64: toB64(v) } : v);
const decode = (v) => (v && v.$b64 !== undefined ? b64ToDV(v.$b64) : v);

export function makeModel(initial) {
  const state = Object.fromEntries(Object.entries(initial).map(([k, v]) => [k, decode(v)]));
  const listeners = new Map();
  const dirty = new Set();
  const fire = (event, ...args) => (listeners.get(event) || []).slice().forEach((f) => f(...args));
  return {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; dirty.add(k); fire(`change:${k}`, v); },
    on: (event, f) => listeners.set(event, [...(listeners.get(event) || []), f]),
    off: (event, f) => listeners.set(event, (listeners.get(event) || []).filter((g) => g !== f)),
    save_changes: () => {
      const changes = {};
      for (const k of dirty) changes[k] = encode(state[k]);
      dirty.clear();
      return window.py_bridge({ kind: "state", changes });
    },
    send: (content, callbacks, buffers = []) => window.py_bridge({ kind: "msg", content, buffers: buffers.map(toB64) }),
    // test helpers: what the kernel would push
    _applyRemote: (updates) => { for (const [k, v] of Object.entries(updates)) { state[k] = decode(v); fire(`change:${k}`); } },
    _emitCustom: (content, buffersB64) => fire("msg:custom", content, buffersB64.map(b64ToDV)),
  };
}

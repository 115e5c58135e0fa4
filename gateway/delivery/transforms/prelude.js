// Run once in every QuickJS context a transform gets, before any of its code.
// It takes away the clock, randomness and the rest of what is not deterministic,
// freezes every built-in so nothing one event changes is seen by the next, and
// answers the function that runs the transform on one event.
(function () {
  "use strict";
  const g = globalThis;
  const denied = (what) =>
    function () {
      throw new TypeError(what + " is not available in a transform: use context.received_at");
    };
  const RealDate = Date;
  function SandboxDate(...args) {
    if (new.target === undefined || args.length === 0) {
      throw new TypeError(
        "the clock is not available in a transform: use context.received_at");
    }
    return Reflect.construct(RealDate, args, new.target);
  }
  SandboxDate.prototype = RealDate.prototype;
  SandboxDate.UTC = RealDate.UTC;
  SandboxDate.parse = RealDate.parse;
  SandboxDate.now = denied("the clock (Date.now)");
  Object.defineProperty(RealDate.prototype, "constructor", { value: SandboxDate });
  g.Date = SandboxDate;
  Math.random = function () {
    throw new TypeError("randomness (Math.random) is not available in a transform");
  };
  for (const name of ["performance", "WeakRef", "FinalizationRegistry", "Atomics",
                      "SharedArrayBuffer", "queueMicrotask"]) {
    delete g[name];
  }

  // Intrinsics no global names: reached through instances.
  const hidden = [
    function* () {}, async function () {}, async function* () {}, (function* () {})(),
    (async function* () {})(), [][Symbol.iterator](), new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](), ""[Symbol.iterator](), /a/g[Symbol.matchAll](""),
    Promise.resolve(), new Uint8Array(0), (function () { return arguments; })(),
  ].map((o) => Object.getPrototypeOf(o));
  const seen = new Set();
  const todo = [g, ...hidden];
  while (todo.length > 0) {
    const o = todo.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) {
      continue;
    }
    seen.add(o);
    Object.freeze(o);
    todo.push(Object.getPrototypeOf(o));
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if ("value" in d) todo.push(d.value);
      else todo.push(d.get, d.set);
    }
  }

  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const contract = (message) => ({ contract: message });
  return function run(wrapped, requestText, contextText, maxChars) {
    const registered = [];
    const addHandler = (kind, fn) => {
      if (kind === "transform" && typeof fn === "function") registered.push(fn);
    };
    let out;
    try {
      const [handler, transform] = wrapped(addHandler);
      const request = parse(requestText);
      const context = parse(contextText);
      if (handler !== undefined) out = handler(request, context);
      else if (registered.length > 0) out = registered[0](request, context);
      else if (transform !== undefined) out = { body: transform(request.body) };
      else return stringify(contract(
        "the transform defines no handler(request), addHandler('transform', ...) or transform(payload)"));
      if (out !== null && typeof out === "object" && typeof out.then === "function") {
        return stringify(contract("the handler returned a promise: a transform runs synchronously"));
      }
      const text = stringify({ output: out === undefined ? null : out });
      if (text.length > maxChars) {
        return stringify(contract(
          "the output is " + text.length + " characters, over the bound of " + maxChars));
      }
      return text;
    } catch (e) {
      if (e instanceof Error) {
        return stringify({ error: e.name + ": " + e.message, stack: String(e.stack) });
      }
      return stringify({ error: "threw " + String(e), stack: "" });
    }
  };
})()

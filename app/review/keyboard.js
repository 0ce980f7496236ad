// The grading screen's keyboard (see grading.py): one keydown listener per browser tab that
// clicks Streamlit's own controls. Installed by goldenloop_app.review.grading.keyboard().
(() => {
  if (window.__goldenloopKeys) return;
  window.__goldenloopKeys = true;
  // Keys pressed before this script ran went nowhere: say when it listens (tests wait for it;
  // Streamlit loads the script's element lazily, so it can come after the item is drawn).
  document.documentElement.dataset.glKeys = "ready";
  // The keyboard row in the order the criteria are shown (grading.CRITERION_KEYS). This
  // listener runs in the capture phase and stops the keys it uses, so Streamlit's own R
  // (rerun) never sees an R meant for the fourth criterion.
  const LETTERS = "qwertyuiop";
  // The app says whether a run is in flight; count its changes so a click can wait for the
  // rerun it caused to start and to finish.
  const idle = () => {
    const app = document.querySelector('[data-test-script-state]');
    return !app || app.getAttribute("data-test-script-state") === "notRunning";
  };
  let changes = 0;
  new MutationObserver((records) => { changes += records.length; })
    .observe(document.documentElement,
             {subtree: true, attributes: true, attributeFilter: ["data-test-script-state"]});
  const seen = (el) => !el.checkVisibility || el.checkVisibility();
  // The last match not left over from an earlier run, preferring one that is shown (Streamlit
  // also renders hidden copies of some controls).
  const last = (sel, root = document) => {
    const all = Array.from(root.querySelectorAll(sel))
      .filter(el => !el.closest('[data-stale="true"]'));
    const shown = all.filter(seen), use = shown.length ? shown : all;
    return use.length ? use[use.length - 1] : null;
  };
  // Only the current item counts: its marker container, and the controls inside it.
  const current = () => last('[class*="st-key-glitem-"]');
  const idOf = (el) => el ? Array.from(el.classList).find(c => c.startsWith("st-key-glitem-"))
                          : null;
  const crits = () => {
    const it = current();
    return it ? Array.from(it.querySelectorAll('[class*="st-key-glcrit-"]')) : [];
  };
  const button = (key) => last(`.st-key-${key} button`, current() || document);
  const info = (el) => {
    const cls = Array.from(el.classList).find(c => c.startsWith("st-key-glcrit-"));
    const [letter, kind] = cls.slice("st-key-glcrit-".length).split("-");
    return {letter, kind};
  };
  const typing = (el) => el && (el.tagName === "TEXTAREA" || el.isContentEditable ||
      (el.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(el.type)));
  let focus = 0, item = null, chain = Promise.resolve(), pending = 0;
  const paint = () => {
    const id = idOf(current());
    if (id !== item) {  // a new item: start at the top, out of any text box
      item = id; focus = 0;
      if (typing(document.activeElement)) document.activeElement.blur();
    }
    crits().forEach((el, i) => {
      el.style.outline = i === focus ? "2px solid #ff4b4b" : "";
      el.style.outlineOffset = "2px";
      el.dataset.glFocused = i === focus ? "1" : "0";
    });
  };
  setInterval(paint, 150);
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  const untilIdle = async (ms) => {
    const t0 = Date.now();
    while (!idle() && Date.now() - t0 < ms) await sleep(20);
  };
  // A click, then its rerun seen to start and finish (or, if none is seen, a short wait).
  const click = async (b) => {
    if (!b) return;
    const before = changes, t0 = Date.now();
    const log = (window.__glLog = window.__glLog || []);  // the last clicks, for diagnosis
    log.push(b.innerText.trim() + "@" + idOf(current()));
    if (log.length > 40) log.shift();
    b.click();
    while (Date.now() - t0 < 15000) {
      await sleep(20);
      if (idle() && (changes > before || Date.now() - t0 > 1500)) return;
    }
  };
  // Every key that clicks waits, in order, behind the reruns of the keys before it: a click
  // sent mid-rerun could land on controls about to be replaced. The page marks itself busy
  // (data-gl-keys-pending) while keys wait.
  const queue = (fn) => {
    pending++;
    document.documentElement.dataset.glKeysPending = String(pending);
    chain = chain.then(async () => {
      try {
        await untilIdle(15000);
        paint();
        await fn();
      } catch (err) {
        console.error("goldenloop keys", err);
      } finally {
        pending--;
        document.documentElement.dataset.glKeysPending = String(pending);
      }
    });
  };
  const move = (i, intoText = true) => {
    const list = crits();
    if (!list.length) return;
    focus = Math.max(0, Math.min(list.length - 1, i));
    paint();
    const el = list[focus];
    el.scrollIntoView({block: "nearest"});
    if (intoText && info(el).kind === "text") {
      const box = el.querySelector("textarea, input");
      if (box) setTimeout(() => box.focus(), 0);  // after this key, so it is not typed in
    }
  };
  // Focus keys act at once when nothing waits, else in turn behind the waiting keys.
  const soon = (fn) => (pending === 0 && idle()) ? (paint(), fn()) : queue(fn);
  // The option button showing digit ``want`` in criterion ``i`` of the current item. A
  // control drawn for the first time may still be loading its code (Streamlit loads widget
  // components lazily), so its buttons can come a moment after its container: wait for them
  // rather than drop the key.
  const option = async (i, want) => {
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      const el = crits()[i];
      const b = el && Array.from(el.querySelectorAll("button")).filter(seen).find(x => {
        const t = x.innerText.trim();
        return t === want || t.startsWith(want + " · ");
      });
      if (b) return b;
      await sleep(20);
    }
    return null;
  };
  // A digit picks and moves on (most answers are one label, so a multi-select moves on
  // too); Shift+digit on a multi-select adds a label and stays.
  const pick = async (k, stay) => {
    const list = crits();
    const i = focus, el = list[i];
    if (!el) return;
    const kind = info(el).kind;
    if (kind === "single" || (kind === "multi" && !stay)) move(focus + 1, false);
    const b = await option(i, k === "0" ? "0 · N/A" : k);
    if (!b) {
      (window.__glLog = window.__glLog || []).push(`no option ${k} in criterion ${i}`);
      return;
    }
    const on = ["aria-checked", "aria-pressed", "data-selected"]
        .some(a => b.getAttribute(a) === "true")
        || (b.getAttribute("kind") || "").endsWith("Active");
    // The item is a form: a pick reruns nothing, so there is no run to wait for.
    if (kind === "multi" || !on) toggle(b);
  };
  const toggle = (b) => {
    const log = (window.__glLog = window.__glLog || []);
    log.push(b.innerText.trim() + "@" + idOf(current()));
    if (log.length > 40) log.shift();
    b.click();
  };
  const ACTIONS = {s: "gl_skip", l: "gl_later"};
  // X: open every closed context section (earlier turns, retrieved documents, tool
  // results) of the current item, or close them all when all are open.
  const context = () => {
    const root = current();
    const parts = root ? Array.from(root.querySelectorAll(".st-key-glctx details")) : [];
    const closed = parts.filter(d => !d.open);
    (closed.length ? closed : parts).forEach(d => {
      const s = d.querySelector("summary");
      if (s) s.click();
    });
  };
  document.addEventListener("keydown", (e) => {
    if (e.metaKey || e.altKey) return;
    const active = document.activeElement;
    if (e.ctrlKey) {
      if (e.key === "Enter" && document.querySelector(".st-key-gl_submit")) {
        e.preventDefault(); e.stopPropagation();
        // Leaving a text box commits its value; give that a moment to reach the form. With
        // no text box focused there is nothing to wait for.
        const wasTyping = typing(active);
        if (wasTyping) active.blur();
        queue(async () => { if (wasTyping) await sleep(60);
                            await untilIdle(15000); await click(button("gl_submit")); });
      }
      return;
    }
    if (typing(active)) {
      if (e.key === "Escape") active.blur();
      return;
    }
    const k = e.key.toLowerCase();
    // Shift+digit types a symbol: read the digit from the key's place.
    const digit = /^(Digit|Numpad)[0-9]$/.test(e.code || "") ? e.code.slice(-1)
                  : (/^[0-9]$/.test(k) ? k : null);
    const mine = () => { e.preventDefault(); e.stopPropagation(); };
    // Decide from what is on the page now (even if a rerun is redrawing it); find the control
    // to click only when it is this key's turn.
    if (k === "z" && document.querySelector(".st-key-gl_undo, .st-key-gl_undo0")) {
      mine();
      queue(() => click(button("gl_undo") || last(".st-key-gl_undo0 button")));
      return;
    }
    if (!document.querySelector('[class*="st-key-glitem-"]')) return;
    if (ACTIONS[k]) { mine(); queue(() => click(button(ACTIONS[k]))); return; }
    if (k === "x") { mine(); soon(context); return; }
    if (!document.querySelector('[class*="st-key-glcrit-"]')) return;
    if (k.length === 1 && LETTERS.includes(k)) {
      mine();
      soon(() => {
        const i = crits().findIndex(el => info(el).letter === k);
        if (i >= 0) move(i);
      });
    } else if (k === "j" || k === "arrowdown") { mine(); soon(() => move(focus + 1)); }
    else if (k === "k" || k === "arrowup") { mine(); soon(() => move(focus - 1)); }
    else if (k === "f") {
      mine();
      queue(async () => {
        const box = last('.st-key-glflag input[type="checkbox"]', current() || document);
        if (box) toggle(box);
      });
    } else if (digit !== null) {
      mine();
      const stay = e.shiftKey;
      queue(() => pick(digit, stay));
    }
  }, true);
})();

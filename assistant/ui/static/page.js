() => {
  // The page's own script (launch(js=...)): German for the few texts Gradio's frontend writes
  // without a translation key, the page's language, and the phone layout's folded examples.
  const LABELS = {
    'chatbot conversation': 'Gesprächsverlauf',
    'More tabs': 'Weitere Reiter',
    'Gradio footer navigation': 'Fußzeile',
    'Close': 'Schließen',
    'Clear': 'Leeren',
    'Copy message': 'Nachricht kopieren',
  };
  const PREFIXES = [["bot's message: ", 'Antwort: '], ["user's message: ", 'Frage: ']];
  const TITLES = {
    'Error': 'Fehler', 'Warning': 'Hinweis', 'Info': 'Hinweis', 'Success': 'Erledigt',
    'Connection Lost': 'Verbindung unterbrochen', 'An error occurred.': 'Ein Fehler ist aufgetreten.',
  };
  const fileType = /^Invalid file types?: (.*)\. Only (.*) allowed\.$/;

  const label = (el) => {
    const text = el.getAttribute('aria-label');
    if (text in LABELS) { el.setAttribute('aria-label', LABELS[text]); return; }
    for (const [en, de] of PREFIXES) {
      if (!text.startsWith(en)) continue;
      const plain = text.slice(en.length).replace(/(?<!\\)\*\*/g, '').replace(/\\([\[\]*_])/g, '$1');
      el.setAttribute('aria-label', de + plain);
    }
  };
  const toastText = (node) => {
    const text = node.nodeValue.trim();
    if (text in TITLES) { node.nodeValue = node.nodeValue.replace(text, TITLES[text]); return; }
    const m = fileType.exec(text);
    if (m) node.nodeValue = `Dieser Dateityp ist nicht erlaubt: ${m[1]}. Erlaubt sind nur ${m[2]}.`;
  };
  const fix = (root) => {
    if (root.nodeType === Node.TEXT_NODE) {
      if (root.parentElement && root.parentElement.closest('.toast-wrap')) toastText(root);
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    if (root.hasAttribute('aria-label')) label(root);
    root.querySelectorAll('[aria-label]').forEach(label);
    const toasts = root.closest('.toast-wrap') ? [root] : root.querySelectorAll('.toast-wrap');
    toasts.forEach((wrap) => {
      const walker = document.createTreeWalker(wrap, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) toastText(node);
    });
  };
  const german = () => { if (document.documentElement.lang !== 'de') document.documentElement.lang = 'de'; };
  german();
  fix(document.body);
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === 'attributes') {
        if (change.target === document.documentElement) german();
        else if (change.target.hasAttribute('aria-label')) label(change.target);
      } else if (change.type === 'characterData') fix(change.target);
      else change.addedNodes.forEach(fix);
    }
  }).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label', 'lang'],
  });

  // Phone: the examples start folded (the question box and the answer come first).
  if (window.matchMedia('(max-width: 640px)').matches) {
    const fold = () => {
      const toggle = document.querySelector('#beispiele > .label-wrap.open, #beispiele .label-wrap.open');
      if (toggle) { toggle.click(); return true; }
      return false;
    };
    if (!fold()) {
      let tries = 0;
      const timer = setInterval(() => { if (fold() || ++tries > 40) clearInterval(timer); }, 100);
    }
  }
}

// Source cards and the answers' [n] (Gradio's js_on_load for gr.HTML: `element` is the
// component, `trigger` sends an event).
// - "Im Dokument anzeigen" calls back with the answer's turn and the citation number.
// - Each [n] in an answer becomes a button that scrolls to its card and makes it flash; the
//   card's own [n] scrolls back to the answer. Only text nodes are split and buttons made with
//   the DOM (textContent), so nothing of an answer is ever parsed as HTML.
const FLASH_MS = 1800;

const flash = (el) => {
  el.classList.remove('aufblitzen');
  void el.offsetWidth; // restart the animation when clicked again
  el.classList.add('aufblitzen');
  clearTimeout(el._aufblitzen);
  el._aufblitzen = setTimeout(() => el.classList.remove('aufblitzen'), FLASH_MS);
};

const messages = () => [...document.querySelectorAll('#chat [data-testid="user"], #chat [data-testid="bot"]')];
const card = (turn, n) => element.querySelector(`.quelle[data-turn="${turn}"][data-n="${n}"]`);

const CITATION = /\[(\d{1,3})\]/g;
const chips = (message) => {
  const content = message.querySelector('.message-content') || message;
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest('.zitat-chip, code, pre') && CITATION.test(node.nodeValue)) found.push(node);
    CITATION.lastIndex = 0;
  }
  for (const node of found) {
    const parts = document.createDocumentFragment();
    let last = 0;
    for (const m of node.nodeValue.matchAll(CITATION)) {
      parts.append(node.nodeValue.slice(last, m.index));
      const chip = document.createElement('button');
      chip.type = 'button';
      chip.className = 'zitat-chip';
      chip.dataset.n = m[1];
      chip.textContent = m[0];
      chip.title = `Quelle ${m[1]} zeigen`;
      chip.setAttribute('aria-label', `Quelle ${m[1]} zeigen`);
      parts.append(chip);
      last = m.index + m[0].length;
    }
    parts.append(node.nodeValue.slice(last));
    node.replaceWith(parts);
  }
};
const chipAll = () => document.querySelectorAll('#chat [data-testid="bot"]').forEach(chips);

const watchChat = () => {
  const chat = document.querySelector('#chat');
  if (!chat) return false;
  chipAll();
  new MutationObserver(chipAll).observe(chat, {childList: true, subtree: true, characterData: true});
  chat.addEventListener('click', (event) => {
    const chip = event.target.closest('.zitat-chip');
    if (!chip) return;
    const turn = messages().indexOf(chip.closest('[data-testid="bot"]'));
    const n = chip.dataset.n;
    const shown = card(turn, n);
    if (shown) {
      event.stopPropagation(); // its sources are shown already: no need to select the answer
      shown.scrollIntoView({block: 'center', behavior: 'smooth'});
      flash(shown);
      return;
    }
    // An earlier answer: the click also selects it (its sources come); then go to the card.
    let tries = 0;
    const wait = setInterval(() => {
      const found = card(turn, n);
      if (found || ++tries > 50) {
        clearInterval(wait);
        if (found) { found.scrollIntoView({block: 'center', behavior: 'smooth'}); flash(found); }
      }
    }, 100);
  });
  return true;
};
if (!watchChat()) {
  let tries = 0;
  const timer = setInterval(() => { if (watchChat() || ++tries > 100) clearInterval(timer); }, 100);
}

element.addEventListener('click', (event) => {
  const back = event.target.closest('[data-zur-antwort]');
  if (back) {
    const answer = messages()[Number(back.dataset.turn)];
    if (answer) {
      answer.scrollIntoView({block: 'center', behavior: 'smooth'});
      flash(answer);
    }
    return;
  }
  const open = event.target.closest('[data-quelle]');
  if (!open) return;
  trigger('click', {turn: Number(open.dataset.turn), n: Number(open.dataset.quelle)});
});

// Source cards: a click on "Im Dokument anzeigen" calls back with the answer's turn and the citation number.
// (Gradio's js_on_load for gr.HTML: `element` is the component, `trigger` sends an event.)
element.addEventListener('click', (event) => {
  const card = event.target.closest('[data-quelle]');
  if (!card) return;
  trigger('click', {turn: Number(card.dataset.turn), n: Number(card.dataset.quelle)});
});

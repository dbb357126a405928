// The 👍/👎 buttons of the answer rated (ui/rating.py renders them): a click calls back with the vote.
// (Gradio's js_on_load for gr.HTML: `element` is the component, `trigger` sends an event.)
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-vote]');
  if (!button) return;
  trigger('click', {vote: button.dataset.vote});
});

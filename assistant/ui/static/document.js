// After a document is shown, bring the cited passage into view.
watch('value', () => {
  requestAnimationFrame(() => {
    const mark = element.querySelector('mark.zitat');
    if (mark) mark.scrollIntoView({block: 'center'});
  });
});

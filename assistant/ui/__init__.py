"""The Gradio chat: layout (:mod:`.layout`), event handlers (:mod:`.events`), HTML
(:mod:`.render`), shared state (:mod:`.service`), wiring (:mod:`.app`), CSS and JS
(``static/``)."""

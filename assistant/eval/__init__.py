"""``assistant eval``: test sets (:mod:`.testset`), metrics (:mod:`.metrics`), the variants and
their indexes (:mod:`.variants`), the resumable runner (:mod:`.run`) and the reports (:mod:`.report`)."""

"""German text analysis shared by indexing, search and answers: words to index terms
(:mod:`.german`) and sentences (:mod:`.sentences`)."""

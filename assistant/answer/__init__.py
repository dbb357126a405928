"""From passages to a cited German answer: candidate sentences (:mod:`.candidates`), extractive
choice (:mod:`.extractive`), wording (:mod:`.compose`), a language model (:mod:`.llm`) and the
check of what it writes (:mod:`.grounding`)."""

"""From a question to ranked passages: what it asks (:mod:`.query`) and hybrid retrieval with
filters (:mod:`.retrieval`)."""

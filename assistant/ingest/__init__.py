"""From files to documents: the corpus walk (:mod:`.corpus`), parsers per format (:mod:`.parsers`),
German dates (:mod:`.dates`) and chunking (:mod:`.chunking`)."""

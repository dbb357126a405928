"""Measurements that are not product code: ``assistant bench`` (how cost grows with the corpus,
:mod:`.scale`) and the FAISS size study (:mod:`.faiss_sizes`)."""

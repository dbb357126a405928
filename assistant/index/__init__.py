"""The index folder: its format (:mod:`.format`), reading (:mod:`.reader`) and writing
(:mod:`.writer`) generations, building (:mod:`.build`) and freshness rules (:mod:`.freshness`),
BM25 (:mod:`.bm25`), vectors (:mod:`.dense`, :mod:`.faiss_index`, :mod:`.embedder`)."""

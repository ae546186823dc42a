"""Usage mediation (TMF635): ingestion of usage records (one, in bulk, from CDR files),
normalisation, deduplication, guiding to the product that used them, rejects and their
reprocessing. Rating is asked to price what was accepted. See docs/usage-and-rating.md."""

//! License knowledge base: verdicts, obligations, citations, lineage.

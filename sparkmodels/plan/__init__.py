"""The plan stage: compiled SQL (refs resolved, ephemerals inlined), ordered steps and test gates."""

//! The standard action catalogue: the typed remediation actions itops knows how to run.

//! A scripted `LanguageModel`.

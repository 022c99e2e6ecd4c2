//! The bounded ReAct engine.

"""Model engines behind one small interface (base.Engine). Each is imported lazily by name, so the web
process never imports torch: only a worker asks for the `transformers` engine."""

"""JSON Schemas of gdoctor's documents, installed so tests and tools can validate against them."""

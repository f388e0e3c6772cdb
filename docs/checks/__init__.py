"""The check documentation pages, installed with the checks so `gdoctor explain` finds them."""

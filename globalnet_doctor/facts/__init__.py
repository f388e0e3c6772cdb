"""Pure facts over what was read, shared by the engine, the checks and the fixes.

One place for each fact (what counts as "Submariner is installed", which GlobalIngressIP
belongs to an export, the gateway label, ...), so that a check and its fix, or two checks that
name each other as root causes, never disagree. Every module is typed and public: a
third-party pack may use them too.
"""

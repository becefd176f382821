"""The metric names the claims are judged on, one module per paper: one constant each, imported by the registry
and by the chapter that measures it, so that a rename cannot silently turn a verdict into "not testable".

One module per paper, because a chapter's recipes import its names: renaming one paper's metric changes that
paper's model keys only.
"""

"""Editing commands: re-deciding code that is already there, with the diffusion model's two-sided view.

token_scores.py (p(x_i | everything else) for each token of a text, by masking it), repair.py (re-decide
only the tokens the model finds unlikely), regenerate.py (fill a whole selection again, or rewrite it
after an instruction). The language server offers them as code actions (lsp_server/edits.py).
"""

"""The live terminal app (``sweeptui watch``). The only package that imports Textual."""
